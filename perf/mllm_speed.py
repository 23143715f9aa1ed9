"""Training speed and peak memory of ma-vlm's spatial MLLM against Transformers' plain LLaVA.

Both models hold the same tower, LLM and MLP projector weights (our `mlp` projector has LLaVA's
parameter names), see the same batch, and take full training steps (forward, backward, AdamW).
Each model runs in its own fresh processes (`--trials`, medians) so peak memory (CUDA: max allocated; CPU: peak RSS
growth over the process after imports) is its own. Ratios are ours / LLaVA's (1.00 = no overhead).
Also prints visual tokens per image for each projector and the tokens/s they give.

    python perf/mllm_speed.py                       # tiny tower + 2-layer Llama (seconds)
    python perf/mllm_speed.py --preset small --llm smollm2 --batch 4 --steps 5
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time


def build(kind: str, preset: str, llm: str, projector: str, reduction: int):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, LlavaConfig, LlavaForConditionalGeneration

    from ma_vlm.mllm import build_spatial_mllm, load_causal_lm
    from ma_vlm.models.metric_anything import MetricAnythingModel, preset_config

    torch.manual_seed(0)
    if llm == "tiny":
        from tokenizers import Tokenizer, models
        from transformers import PreTrainedTokenizerFast

        tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0, "a": 1}, "<unk>")),
                                            unk_token="<unk>", eos_token="<unk>",
                                            chat_template="{% for m in messages %}{{ m['content'] }}{% endfor %}")
        text = LlamaForCausalLM(LlamaConfig(vocab_size=512, hidden_size=256, intermediate_size=512, num_hidden_layers=4,
                                            num_attention_heads=4, num_key_value_heads=2))
    else:
        text, tokenizer = load_causal_lm(llm)
    tower = MetricAnythingModel(preset_config(preset))
    ours, _ = build_spatial_mllm(text, tower, tokenizer, projector_type=projector, token_reduction=reduction)
    if projector != "mlp" or reduction != 1:
        return ours  # no LLaVA twin: LLaVA has only the mlp projector
    # Both processes build both models and drop one, so the memory each frees before training
    # (and reuses in it) is the same: otherwise the LLaVA process, having freed ours, starts with
    # ~one model's worth of free heap and its peak RSS growth reads lower (measured: x1.08 "ours").
    config = LlavaConfig(vision_config=ours.config.vision_config, text_config=ours.config.text_config,
                         image_token_id=ours.config.image_token_id, vision_feature_layer=-1,
                         vision_feature_select_strategy="default", tie_word_embeddings=ours.config.tie_word_embeddings)
    llava = LlavaForConditionalGeneration(config)
    llava.load_state_dict(ours.state_dict())  # same weights, same parameter names
    return ours if kind == "ours" else llava


def measure(kind, args, queue):
    import torch

    import ma_vlm.mllm

    ma_vlm.mllm.register()  # spatial_llava into the Auto classes

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.set_num_threads(args.threads)
    model = build(kind, args.preset, args.llm, args.projector, args.reduction).to(device).train()
    config = model.config
    tokens_per_image = config.num_image_tokens if kind == "ours" else config.vision_config.tokens_per_tile**2
    text_tokens = args.text_tokens
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(10, min(400, config.text_config.vocab_size), (args.batch, tokens_per_image + text_tokens), generator=generator)
    ids[:, :tokens_per_image] = config.image_token_id
    ids = ids.to(device)
    pixels = torch.randn(args.batch, 3, config.vision_config.image_size, config.vision_config.image_size,
                         generator=generator).to(device)  # fmt: skip
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def step():
        loss = model(input_ids=ids, pixel_values=pixels, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()  # warm-up (allocations, kernels)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline_rss) / 1024  # KiB -> MiB
    seconds = (time.perf_counter() - start) / args.steps
    queue.put({"kind": kind, "tokens_per_s": ids.numel() / seconds, "step_s": seconds, "peak_mib": peak,
               "visual_tokens": tokens_per_image})  # fmt: skip


def run_once(kind, args):
    queue = mp.get_context("spawn").Queue()
    process = mp.get_context("spawn").Process(target=measure, args=(kind, args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def run_pair(args):
    """(LLaVA, ours): medians over `args.trials` fresh processes each, run alternately so that
    load on the machine hits both alike (peak RSS varies by several MiB between processes)."""
    trials = {"llava": [], "ours": []}
    for _ in range(args.trials):
        for kind in trials:
            trials[kind].append(run_once(kind, args))
    return tuple(_median(trials[kind]) for kind in ("llava", "ours"))


def _median(results):
    import statistics

    merged = dict(results[0])
    for key in ("tokens_per_s", "step_s", "peak_mib"):
        merged[key] = statistics.median(result[key] for result in results)
    return merged


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny", help="tower preset")
    parser.add_argument("--llm", default="tiny", help="'tiny' (random 4-layer Llama), 'smollm2', a folder or Hub id")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--text-tokens", type=int, default=64, help="text tokens per sample after the image")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--trials", type=int, default=3, help="fresh processes per model (medians reported)")
    parser.add_argument("--projector", default="mlp", help="ours vs LLaVA uses mlp (LLaVA's projector)")
    parser.add_argument("--reduction", type=int, default=1)
    parser.add_argument("--reductions", default="pixel_shuffle:2,avg_pool:2,avg_pool:4",
                        help="token-reducing projectors to list (type:r, comma separated)")
    args = parser.parse_args()

    llava, ours = run_pair(args)
    print(f"{'model':<28}{'tokens/s':>10}{'step s':>9}{'peak MiB':>10}{'visual tokens':>15}")
    for name, r in (("transformers LLaVA (mlp)", llava), ("ma-vlm SpatialLlava (mlp)", ours)):
        print(f"{name:<28}{r['tokens_per_s']:>10.1f}{r['step_s']:>9.3f}{r['peak_mib']:>10.0f}{r['visual_tokens']:>15}")
    print(f"ratio ours/LLaVA: tokens/s x{ours['tokens_per_s'] / llava['tokens_per_s']:.3f}, "
          f"peak memory x{ours['peak_mib'] / max(llava['peak_mib'], 1e-9):.3f}")
    for spec in filter(None, args.reductions.split(",")):
        projector, reduction = spec.split(":")
        reduced = run_once("ours", argparse.Namespace(**{**vars(args), "projector": projector, "reduction": int(reduction)}))
        print(f"{projector} r={reduction}: {reduced['visual_tokens']} visual tokens/image (vs {ours['visual_tokens']}), "
              f"tokens/s {reduced['tokens_per_s']:.1f}, images/s {args.batch / reduced['step_s']:.2f} "
              f"(mlp: {args.batch / ours['step_s']:.2f}), peak {reduced['peak_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
