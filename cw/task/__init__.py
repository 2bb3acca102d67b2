"""The task: arenas and the simulated trajectories (inputs and targets)."""
