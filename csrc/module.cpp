// The extension modules fastload._C (the CPU ops) and fastload._C_cuda (the CUDA ops, loaded only under a CUDA
// torch), each built from this file; torch's build names the one being built in TORCH_EXTENSION_NAME. Neither
// exposes anything itself: importing one runs the static TORCH_LIBRARY registrations of its shared library, after
// which its ops are callable as torch.ops.fastload.*. Only the limited Python API is used (no pybind11), so one build
// serves every CPython from 3.10 on (an abi3 wheel).
#include <Python.h>

#define FL_STR2(x) #x
#define FL_STR(x) FL_STR2(x)
#define FL_JOIN2(a, b) a##b
#define FL_JOIN(a, b) FL_JOIN2(a, b)

static PyModuleDef fastload_module = {PyModuleDef_HEAD_INIT, FL_STR(TORCH_EXTENSION_NAME),
                                      "fastload's compiled ops (torch.ops.fastload)", -1, nullptr};

PyMODINIT_FUNC FL_JOIN(PyInit_, TORCH_EXTENSION_NAME)(void) { return PyModule_Create(&fastload_module); }
