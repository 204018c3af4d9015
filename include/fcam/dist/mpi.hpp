/// \file
/// \brief The MPI world (fcam::mpi, built with FCAM_WITH_MPI): one process per rank, started by
/// mpirun or srun; collectives run on a communication thread with a timeout. Declarations only:
/// this header includes no MPI header.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>

#include "fcam/config.hpp"
#include "fcam/dist/communicator.hpp"

namespace fcam::dist {

/// Settings of the MPI world.
struct MpiOptions {
  /// Seconds a collective may wait for the other ranks before it fails, naming those that did
  /// not arrive (a rank that died or stalls).
  double timeout_seconds = 600;
};

/// True when this process was started by an MPI launcher (mpirun / mpiexec of Open MPI or
/// MPICH, or Slurm's srun with PMI/PMIx), whatever fcam was built with.
inline bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (const char* v = std::getenv(name); v && *v) return true;
  return false;
}

#if FCAM_WITH_MPI
/// Initialises MPI (once per process; MPI_THREAD_SERIALIZED) and returns MPI_COMM_WORLD as a
/// Communicator. Destroying it finalises MPI. Defined in fcam::mpi.
std::unique_ptr<Communicator> mpi_world(MpiOptions options = {});
#endif

/// The world this process belongs to: MPI when started by a launcher (needs FCAM_WITH_MPI,
/// else fcam::Error), else a SingleProcess.
inline std::unique_ptr<Communicator> make_world(MpiOptions options = {}) {
  if (!launched_by_mpi()) return std::make_unique<SingleProcess>();
#if FCAM_WITH_MPI
  return mpi_world(options);
#else
  (void)options;
  const char* ranks = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (!ranks) ranks = std::getenv("PMI_SIZE");
  if (ranks && std::string(ranks) == "1") return std::make_unique<SingleProcess>();
  throw Error("this program was started by an MPI launcher but fcam was built without MPI "
              "(configure with -DFCAM_WITH_MPI=ON, see docs/distributed.md)");
#endif
}

}  // namespace fcam::dist
