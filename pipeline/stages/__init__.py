"""The ``run`` command's staged pipeline: teacher -> distill -> export -> verify -> report, with a
run manifest (run.json) that caches each stage on the hashes of its inputs."""
