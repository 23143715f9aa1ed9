"""Processor of the spatial MLLM: image processor + the LLM's tokenizer and chat template.

`processor(images=..., text=..., intrinsics=[[fx, fy, cx, cy], ...])` expands each image token
of `text` into `num_image_tokens` copies (what the projector gives per image), tokenizes, and
prepares the images with `MetricAnythingImageProcessor`; `intrinsics` (pixels of the images as
given) come back rescaled to `pixel_values`' pixels and go to the model with them.
"""

from __future__ import annotations

from transformers import BatchFeature, ProcessorMixin

from ma_vlm.errors import MaVlmInputError

# Jinja prologue put in front of the LLM's own chat template: multimodal messages
# ([{"type": "image"}, {"type": "text", ...}]) become plain strings with the image token where
# each image goes, so any LLM's template renders them unchanged.
_FLATTEN_MESSAGES = (
    "{%- set flat = namespace(messages=[]) -%}"
    "{%- for message in messages -%}"
    "{%- if message['content'] is string -%}{%- set flat.messages = flat.messages + [message] -%}"
    "{%- else -%}{%- set part_text = namespace(value='') -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{%- set part_text.value = part_text.value + '@IMAGE_TOKEN@' -%}"
    "{%- elif part['type'] == 'text' -%}{%- set part_text.value = part_text.value + part['text'] -%}{%- endif -%}"
    "{%- endfor -%}"
    "{%- set flat.messages = flat.messages + [{'role': message['role'], 'content': part_text.value}] -%}"
    "{%- endif -%}{%- endfor -%}"
    "{%- set messages = flat.messages -%}"
)


def multimodal_chat_template(llm_chat_template: str, image_token: str = "<image>") -> str:
    """The LLM's chat template, made to accept messages whose content is a list of parts."""
    if not llm_chat_template:
        raise MaVlmInputError("the tokenizer has no chat_template; give one (an Instruct/chat LLM has it)")
    return _FLATTEN_MESSAGES.replace("@IMAGE_TOKEN@", image_token) + llm_chat_template


class SpatialLlavaProcessor(ProcessorMixin):
    """image_processor: `MetricAnythingImageProcessor`; tokenizer: the LLM's (with `image_token`
    added as a special token); num_image_tokens: `SpatialLlavaConfig.num_image_tokens`."""

    def __init__(self, image_processor=None, tokenizer=None, num_image_tokens: int = 64,
                 image_token: str = "<image>", chat_template: str | None = None, **kwargs):  # fmt: skip
        self.num_image_tokens = int(num_image_tokens)
        self.image_token = image_token
        self.image_token_id = tokenizer.convert_tokens_to_ids(image_token)
        super().__init__(image_processor, tokenizer, chat_template=chat_template)

    def __call__(self, images=None, text=None, intrinsics=None, return_tensors="pt", **kwargs) -> BatchFeature:
        """images: one image or a list, in the order their tokens appear in `text`;
        text: a string or a list (one per sample); intrinsics: (num_images, 4) [fx, fy, cx, cy]
        in pixels of the images as given, or None. Returns input_ids, attention_mask,
        pixel_values (num_images, 3, S, S) and intrinsics (num_images, 4) when given."""
        if text is None:
            raise MaVlmInputError("text is required: a prompt with one image token per image")
        texts = [text] if isinstance(text, str) else list(text)
        count = sum(t.count(self.image_token) for t in texts)
        images = [] if images is None else (list(images) if isinstance(images, (list, tuple)) else [images])
        if count != len(images):
            raise MaVlmInputError(
                f"text has {count} image tokens {self.image_token!r} but {len(images)} images were given; "
                "put one image token per image (apply_chat_template does it for {'type': 'image'} parts)"
            )
        data = {}
        if images:
            image_kwargs = {"intrinsics": intrinsics} if intrinsics is not None else {}
            data.update(self.image_processor(images, return_tensors=return_tensors, **image_kwargs))
            # the depth processor also returns focal_length_px (= intrinsics[:, 0]); the model takes
            # intrinsics only, and generate() refuses a key the model does not read
            data.pop("focal_length_px", None)
        expanded = [t.replace(self.image_token, self.image_token * self.num_image_tokens) for t in texts]
        kwargs.setdefault("add_special_tokens", False)  # the chat template already has them
        data.update(self.tokenizer(expanded, return_tensors=return_tensors, **kwargs))
        return BatchFeature(data=data, tensor_type=return_tensors)

    @property
    def model_input_names(self):
        return ["input_ids", "attention_mask", "pixel_values", "intrinsics"]
