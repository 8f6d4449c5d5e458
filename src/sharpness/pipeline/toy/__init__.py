"""Steps of the toy study: simulate the problem into the study store."""
