/// \file
/// \brief The CUDA emulation's stand-in for cudnn.h: only the handle that fcam's per-thread
/// context creates. Convolutions run on the CPU in its place (conv2d_on_host.cpp).
#pragma once

#include <cuda_runtime.h>

typedef enum { CUDNN_STATUS_SUCCESS = 0, CUDNN_STATUS_NOT_SUPPORTED = 3000 } cudnnStatus_t;
typedef struct cudnnContext* cudnnHandle_t;
typedef enum { CUDNN_DATA_FLOAT = 0, CUDNN_DATA_BFLOAT16 = 14 } cudnnDataType_t;

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle);
cudnnStatus_t cudnnDestroy(cudnnHandle_t handle);
cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream);
const char* cudnnGetErrorString(cudnnStatus_t status);
