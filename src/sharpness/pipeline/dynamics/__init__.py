"""Steps of the dynamics study: train a step-based run with its Hessian tracked, collect the store."""
