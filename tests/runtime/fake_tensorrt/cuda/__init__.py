"""A stand-in for cuda-python's ``cudart`` (see ../tensorrt): "device" memory is host memory."""
