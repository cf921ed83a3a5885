"""A real Qwen2.5-VL pipeline built locally (nothing downloaded): a byte-level BPE tokenizer trained
here with Qwen's special tokens and a Qwen-style chat template, transformers' PIL Qwen2-VL image
processor (the real ``smart_resize``), a ``Qwen2_5_VLProcessor`` around them, and a tiny
random-weight ``Qwen2_5_VLForConditionalGeneration``.

The processor is built without its video part: transformers' video processors need torchvision,
which does not load with the CPU torch these tests run on."""

from __future__ import annotations

from typing import Sequence

from verireward import _tiny

QWEN_SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
                "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>")

# Qwen2-VL's chat layout: a default system turn, one <|vision_start|><|image_pad|><|vision_end|> per image
# part (the processor expands the pad to the image's token count), <|im_start|>assistant\n to generate
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def qwen_tokenizer(corpus: Sequence[str], vocab_size: int = 400):
    """A fast tokenizer with Qwen's special tokens (eos ``<|im_end|>``, pad ``<|endoftext|>``) and chat template."""
    from transformers import PreTrainedTokenizerFast

    tok = _tiny.byte_bpe(list(corpus) * 3, vocab_size, special_tokens=QWEN_SPECIAL)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   chat_template=CHAT_TEMPLATE)


def qwen25vl_processor(tokenizer, **image_kwargs):
    """A real ``Qwen2_5_VLProcessor`` over transformers' PIL image processor (``image_kwargs``:
    ``min_pixels``, ``max_pixels``, ...), without the video processor."""
    from transformers import Qwen2_5_VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    class ImageOnlyQwen2_5_VLProcessor(Qwen2_5_VLProcessor):
        def check_argument_for_proper_class(self, argument_name, argument):
            if argument_name == "video_processor" and argument is None:  # its class needs torchvision
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

    return ImageOnlyQwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessorPil(**image_kwargs), tokenizer=tokenizer,
                                        video_processor=None, chat_template=CHAT_TEMPLATE)


def tiny_qwen25vl(tokenizer, seed: int = 0):
    """A random-weight ``Qwen2_5_VLForConditionalGeneration`` (one text layer, one vision block) for
    the tokenizer, seeded."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    ids = tokenizer.convert_tokens_to_ids
    special = dict(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                   bos_token_id=tokenizer.pad_token_id)
    cfg = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         rope_scaling={"type": "mrope", "mrope_section": [1, 1, 2]}, **special),
        vision_config=dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=32,
                           fullatt_block_indexes=[0]),
        image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"), **special)
    torch.manual_seed(seed)
    return Qwen2_5_VLForConditionalGeneration(cfg)
