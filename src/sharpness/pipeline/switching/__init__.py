"""Steps of the switching study: train prefixes and branches, measure final and checkpoint
Hessians, collect the study store."""
