// Open MPI's C interface (pkg-config "ompi-c"; Debian: libopenmpi-dev), used by
// GlanceDistributed when Glance is built with the MPI trait. Open MPI's handles
// (MPI_COMM_WORLD, MPI_FLOAT, …) are macros Swift cannot import: these functions return them.
#include <mpi.h>

static inline MPI_Comm glance_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype glance_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype glance_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype glance_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Errhandler glance_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline void *glance_mpi_in_place(void) { return MPI_IN_PLACE; }
