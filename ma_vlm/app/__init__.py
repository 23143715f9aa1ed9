"""`ma-vlm app`: a web page (Gradio, offline) to try the models on your own photo.

`cli.py` registers the command; `models.py` finds and loads the models; `inputs.py` checks the
photo, its camera and depth maps; `outputs.py` writes a request's files; `page.py` lays out the
page and turns failures into one-line messages; one module per tab: `depth_tab.py` ("depth"),
`camera_tab.py` ("intrinsics"), `completion_tab.py` ("complete"), `chat_tab.py` ("chat").
"""
