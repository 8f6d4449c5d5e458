"""Steps of the landscape study: analyse a switching study's final models."""
