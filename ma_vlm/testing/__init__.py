"""Reference implementations the tests and `perf/` measure against (not used by the library).

- `official_reference`: the official Student-DepthMap forward pass, written from the official
  code's structure, and `make_official_state_dict` (a checkpoint in the official key layout);
- `pointmap_reference`: the same for Student-PointMap (`make_pointmap_checkpoint`).
"""
