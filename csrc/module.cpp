// The extension module fastload._C. It exposes nothing itself: importing it runs the static TORCH_LIBRARY
// registrations of every op in the shared library, after which they are callable as torch.ops.fastload.*.
#include <Python.h>

static PyModuleDef fastload_module = {PyModuleDef_HEAD_INIT, "_C", "fastload's compiled ops (torch.ops.fastload)", -1,
                                      nullptr};

PyMODINIT_FUNC PyInit__C(void) { return PyModule_Create(&fastload_module); }
