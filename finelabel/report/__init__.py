"""Output a person reads: text tables and plots (PNG) of runs, trials and results."""
