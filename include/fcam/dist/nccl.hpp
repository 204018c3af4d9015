/// \file
/// \brief The NCCL world (fcam::nccl, built with FCAM_WITH_MPI and FCAM_WITH_CUDA): one process
/// per GPU, started by mpirun or srun like the MPI world, whose ranks it uses to agree on the
/// NCCL communicator; collectives move GPU memory. Declarations only: this header includes no
/// MPI, CUDA or NCCL header.
#pragma once

#include <memory>

#include "fcam/config.hpp"
#include "fcam/dist/communicator.hpp"
#include "fcam/dist/mpi.hpp"

namespace fcam::dist {

#if FCAM_WITH_MPI && FCAM_WITH_CUDA
/// Initialises MPI (mpi_world()), selects GPU local_rank() (one process per GPU: NCCL refuses
/// two ranks on one GPU, so a machine may run at most as many ranks as it has GPUs), and creates
/// an NCCL communicator over the MPI ranks (rank 0's ncclUniqueId broadcast over MPI).
///
/// Collective::data must be GPU memory of that device (cudaMalloc or fcam's CUDA tensors); the
/// operations run in order on the world's own CUDA stream, and Pending::wait() returns once the
/// result is in memory. A collective that does not finish within options.timeout_seconds aborts
/// the NCCL communicator; a barrier over MPI then names the ranks that do not answer. Barriers
/// run over MPI. Defined in fcam::nccl.
std::unique_ptr<Communicator> nccl_world(MpiOptions options = {});
#endif

}  // namespace fcam::dist
