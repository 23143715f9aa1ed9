"""`ma-vlm demo`: the whole pipeline end to end (data, depth pretraining and evaluation, point map,
spatial MLLM, VLA), composed from the project's own commands, with a report (report.md, report.html)."""
