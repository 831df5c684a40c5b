"""finelabel benchmark without its train-step and DDP-step parts, for a device machine whose
time is short: those two need no Ray and benchmarks/bench_step_devices.py measures them there."""
import sys

from finelabel.benchmark import suite
from finelabel.stages.ray_session import ray_session

suite.step_fraction_of_bound = lambda *a, **k: {"fraction": None, "ceiling": None}
suite.ddp_step_ratios = lambda *a, **k: {"factors": None, "plain": None}
with ray_session():
    result = suite.run_benchmark(sys.argv[1])
print(suite.format_table(result))
