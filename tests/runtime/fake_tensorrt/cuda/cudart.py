"""cudart calls verify_on_device.py makes, on host memory: each returns (error, value...) as cudart does."""

import ctypes

_buffers = {}


class cudaMemcpyKind:  # noqa: N801 - cudart's name
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2


def cudaStreamCreate():  # noqa: N802
    return 0, 1


def cudaStreamSynchronize(stream):  # noqa: N802
    return (0,)


def cudaMalloc(size):  # noqa: N802
    buffer = ctypes.create_string_buffer(max(int(size), 1))
    _buffers[ctypes.addressof(buffer)] = buffer
    return 0, ctypes.addressof(buffer)


def cudaFree(address):  # noqa: N802
    _buffers.pop(address, None)
    return (0,)


def cudaMemcpyAsync(dst, src, size, kind, stream):  # noqa: N802
    ctypes.memmove(dst, src, size)
    return (0,)
