"""Conan 2 recipe for fcam: a header library with a small compiled runtime (CPU kernels of every
instruction set, stb) and an optional compiled CUDA component."""
from conan import ConanFile
from conan.tools.cmake import CMake, CMakeToolchain, cmake_layout
from conan.tools.files import copy


class FcamConan(ConanFile):
    name = "fcam"
    version = "0.1.0"
    license = "TBD"  # the project owner has not chosen a license yet
    description = "Full-resolution class activation maps (F-CAM) in C++20, CPU (Eigen) and optional CUDA"
    topics = ("weakly-supervised-localization", "class-activation-maps", "deep-learning", "cuda")
    settings = "os", "arch", "compiler", "build_type"
    options = {"with_cuda": [True, False]}
    default_options = {"with_cuda": False}
    exports_sources = "CMakeLists.txt", "cmake/*", "include/*", "src/*", "cuda/*"
    no_copy_source = True

    def requirements(self):
        self.requires("eigen/3.4.0", transitive_headers=True)
        self.requires("stb/cci.20230920")  # compiled into fcam_runtime only

    def layout(self):
        cmake_layout(self)

    def generate(self):
        tc = CMakeToolchain(self)
        tc.variables["FCAM_WITH_CUDA"] = bool(self.options.with_cuda)
        tc.variables["FCAM_BUILD_TESTS"] = False
        tc.variables["FCAM_BUILD_EXAMPLES"] = False
        tc.variables["FCAM_BUILD_BENCHMARKS"] = False
        tc.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        copy(self, "LICENSE*", self.source_folder, self.package_folder)
        CMake(self).install()

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "fcam")
        self.cpp_info.set_property("cmake_target_name", "fcam::fcam")
        self.cpp_info.components["core"].set_property("cmake_target_name", "fcam::fcam")
        self.cpp_info.components["core"].requires = ["eigen::eigen", "stb::stb"]
        self.cpp_info.components["core"].libs = ["fcam_runtime"]
        self.cpp_info.components["core"].bindirs = []
        if self.settings.os == "Linux":
            self.cpp_info.components["core"].system_libs = ["pthread"]
            self.cpp_info.components["core"].cxxflags = ["-fopenmp"]
            self.cpp_info.components["core"].sharedlinkflags = ["-fopenmp"]
            self.cpp_info.components["core"].exelinkflags = ["-fopenmp"]
        if self.options.with_cuda:
            cuda = self.cpp_info.components["cuda"]
            cuda.set_property("cmake_target_name", "fcam::fcam_cuda")
            cuda.libs = ["fcam_cuda"]
            cuda.requires = ["core"]
            cuda.system_libs = ["cudart", "cudnn", "cublas"]
