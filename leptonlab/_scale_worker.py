"""One process of :func:`leptonlab.scale.launch_local` (run as ``python path/to/_scale_worker.py``).

It joins the JAX cluster with ``jax.distributed.initialize`` (process 0 also runs
the coordinator), trains :func:`leptonlab.scale.run_demo` over a mesh of every
process's devices, and writes its trained parameters and a few facts to ``--out``.
The launcher sets ``JAX_PLATFORMS=cpu`` and ``XLA_FLAGS`` before this starts. It runs
as a script, so that nothing (not even importing the leptonlab package) touches the
XLA backend before ``jax.distributed.initialize``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main(argv: list[str] | None = None) -> None:
    start = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--coordinator", required=True, help="host:port of process 0's coordinator")
    parser.add_argument("--num-processes", type=int, required=True)
    parser.add_argument("--process-id", type=int, required=True)
    parser.add_argument(
        "--timeout", type=int, default=120, help="seconds to wait for the other processes"
    )
    parser.add_argument("--task", required=True, help="the DemoTask as JSON")
    parser.add_argument("--out", required=True, help="where to write the .npz result")
    args = parser.parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [
        p for p in sys.path if os.path.abspath(p or ".") != here
    ]  # leptonlab/ is not a top-level path

    import jax

    jax.config.update(
        "jax_cpu_collectives_implementation", "gloo"
    )  # cross-process all-reduce on CPU
    jax.distributed.initialize(
        coordinator_address=args.coordinator,
        num_processes=args.num_processes,
        process_id=args.process_id,
        initialization_timeout=args.timeout,
    )
    import numpy as np

    from leptonlab import scale

    task = scale.DemoTask(**json.loads(args.task))
    mesh = scale.make_mesh()  # every device of every process
    state, history = scale.run_demo(task, mesh)
    params = scale.flat_params(state)
    meta = {
        "process_id": jax.process_index(),
        "process_count": jax.process_count(),
        "global_devices": len(jax.devices()),
        "local_devices": len(jax.local_devices()),
        "history": history.rows,
        "seconds": time.perf_counter() - start,
    }
    np.savez(args.out, __meta__=np.array(json.dumps(meta)), **params)
    jax.distributed.shutdown()


if __name__ == "__main__":
    main()
