"""``finelabel benchmark``: how fast each stage is and how its cost grows, measured in one run.

Figures are ratios or times measured side by side in one process (the machine may be shared),
written to ``benchmark.json`` with the machine they ran on. Importing the package does nothing.
"""
