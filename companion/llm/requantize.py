"""Rewriting a GGUF's 4-bit tensors into another block layout, in numpy with the ``gguf`` package.

SmolLM2-135M ships as Q4_1 (a scale and a minimum per block of 32 weights), which llama.cpp's
CPU kernels read slowly. As Q8_0 (8 bits and a scale) the same weights are kept almost exactly
and read faster; as Q4_0 (4 bits and a scale) faster still, but rounded again onto a coarser
grid (``benchmarks/llm_first_token.py --gguf``, ``benchmarks/gguf_answers.py``). Only the
tensors in ``FROM`` are rewritten; the others (norms, the Q8_0 embeddings) are copied byte for
byte, and so is every metadata field except the file type.
"""

from __future__ import annotations

from pathlib import Path

FROM = ("Q4_1",)  # block layouts rewritten; everything else is copied as it is
FILE_TYPE = {"Q4_0": 2, "Q8_0": 7}  # llama.cpp's LLAMA_FTYPE_MOSTLY_* for general.file_type


def requantize(src: Path, dst: Path, to: str = "Q4_0") -> None:
    """Write ``src`` to ``dst`` with its ``FROM`` tensors dequantised and quantised as ``to``.
    The result is the same bytes every time for the same input and ``gguf`` version."""
    import gguf
    from gguf.quants import dequantize, quantize

    target = gguf.GGMLQuantizationType[to]
    reader = gguf.GGUFReader(str(src))
    arch = reader.get_field(gguf.Keys.General.ARCHITECTURE).contents()
    writer = gguf.GGUFWriter(str(dst), arch, endianess=reader.endianess)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # written by GGUFWriter itself
        value = FILE_TYPE[to] if field.name == gguf.Keys.General.FILE_TYPE else field.contents()
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, field.types[0], sub_type=sub_type)
    tensors = []
    for t in reader.tensors:
        data, qtype = t.data, t.tensor_type
        if qtype.name in FROM:
            data, qtype = quantize(dequantize(data, qtype), target), target
        tensors.append(data)
        writer.add_tensor_info(t.name, data.shape, data.dtype, data.nbytes, qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for data in tensors:
        writer.write_tensor_data(data, tensor_endianess=reader.endianess)
    writer.close()
