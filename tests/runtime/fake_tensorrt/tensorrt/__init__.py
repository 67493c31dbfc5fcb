"""A stand-in for TensorRT's Python API, enough of it for verify_on_device.py's engine build and
execution to run their control flow on a CPU: the "engine" is the ONNX file with the build flags
in front, executed by ONNX Runtime. It records what the device script asked for, nothing more; no
claim about real TensorRT behaviour rests on it."""

import json

import numpy as np
import onnxruntime as ort

__version__ = "10.0.0-fake"
MAGIC = b"FAKE-TRT-ENGINE\n"


class Logger:
    WARNING = 2

    def __init__(self, level=None):
        self.level = level


class BuilderFlag:
    FP16 = "FP16"
    INT8 = "INT8"


class TensorIOMode:
    INPUT = "INPUT"
    OUTPUT = "OUTPUT"


class _Tensor:
    def __init__(self, name, shape):
        self.name, self.shape = name, tuple(shape)


class _Network:
    def __init__(self):
        self.onnx = None
        self.inputs = []

    def get_input(self, index):
        return self.inputs[index]


class OnnxParser:
    def __init__(self, network, logger):
        self.network, self.num_errors = network, 0

    def parse(self, data):
        try:
            session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001 - a real parser reports errors the same way: False
            self.num_errors = 1
            return False
        self.network.onnx = data
        self.network.inputs = [_Tensor(i.name, [d if isinstance(d, int) else -1 for d in i.shape])
                               for i in session.get_inputs()]
        return True

    def get_error(self, index):
        return "not an ONNX model"


class _Profile:
    def __init__(self):
        self.shapes = {}

    def set_shape(self, name, low, opt, high):
        self.shapes[name] = (list(low), list(opt), list(high))


class _Config:
    def __init__(self):
        self.flags, self.profiles = [], []

    def set_flag(self, flag):
        self.flags.append(flag)

    def add_optimization_profile(self, profile):
        self.profiles.append(profile.shapes)


class Builder:
    def __init__(self, logger):
        pass

    def create_network(self, flags=0):
        return _Network()

    def create_builder_config(self):
        return _Config()

    def create_optimization_profile(self):
        return _Profile()

    def build_serialized_network(self, network, config):
        header = json.dumps({"flags": config.flags, "profiles": config.profiles}).encode()
        return MAGIC + header + b"\n" + network.onnx


class _Context:
    def __init__(self, engine):
        self.engine, self.shape, self.addresses = engine, None, {}

    def set_input_shape(self, name, shape):
        self.shape = tuple(shape)

    def get_tensor_shape(self, name):
        if name == self.engine.output_name:
            return (self.shape[0], self.engine.classes)
        return self.shape

    def set_tensor_address(self, name, address):
        self.addresses[name] = address

    def execute_async_v3(self, stream):
        import ctypes

        count = int(np.prod(self.shape))
        buffer = (ctypes.c_float * count).from_address(self.addresses[self.engine.input_name])
        x = np.frombuffer(buffer, dtype=np.float32, count=count).reshape(self.shape).copy()
        out = self.engine.session.run(None, {self.engine.input_name: x})[0].astype(np.float32)
        ctypes.memmove(self.addresses[self.engine.output_name], out.ctypes.data, out.nbytes)
        return True


class _Engine:
    def __init__(self, data):
        self.header = json.loads(data[len(MAGIC):].split(b"\n", 1)[0])
        self.session = ort.InferenceSession(data[len(MAGIC):].split(b"\n", 1)[1], providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name
        shape = self.session.get_inputs()[0].shape
        self.input_shape = tuple(d if isinstance(d, int) else -1 for d in shape)
        probe = np.zeros((1, *self.input_shape[1:]), np.float32)
        self.classes = self.session.run(None, {self.input_name: probe})[0].shape[1]
        self.num_io_tensors = 2

    def get_tensor_name(self, index):
        return (self.input_name, self.output_name)[index]

    def get_tensor_mode(self, name):
        return TensorIOMode.INPUT if name == self.input_name else TensorIOMode.OUTPUT

    def get_tensor_shape(self, name):
        return self.input_shape

    def create_execution_context(self):
        return _Context(self)


class Runtime:
    def __init__(self, logger):
        pass

    def deserialize_cuda_engine(self, data):
        return _Engine(data) if data.startswith(MAGIC) else None
