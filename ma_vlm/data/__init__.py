"""RGB-D data for Metric Anything: synthetic scenes, noisy sources, sparse prompts.

Which file answers which question (imports stay lazy: nothing heavy loads with this package):

  schema.py            the RGB-D record contract, its ``datasets.Features`` and encode/decode
  cameras.py           the camera zoo (thousands of distinct intrinsics; nested subsets)
  scenes.py            procedural rooms / tabletops / streets as data, and their MJCF
  render.py            MuJoCo offscreen rendering: RGB, metric z-depth, instance masks, 3D boxes
  generate.py          seeded, multi-process generation into sharded parquet (``ma-vlm data generate``)
  loading.py           ``load_rgbd_dataset`` (any source in our schema) and ``RGBDTorchDataset``
  noise.py             LiDAR, ToF, stereo, SfM, MVS and low-resolution sensor simulators
  sparse_prompts.py    Sparse Metric Prompt samplers and ``parse_prompt_spec``

Depth evaluation (metrics, benchmark readers, baselines, ``ma-vlm eval depth``) lives in
``ma_vlm.benchmarks.depth``.

A training batch, in three lines::

    dataset = load_rgbd_dataset("out/synthetic")                      # datasets.Dataset
    examples = RGBDTorchDataset(dataset, size=(384, 384), prompt_sampler=default_prompt_mixture())
    loader = torch.utils.data.DataLoader(examples, batch_size=8, shuffle=True)
"""
