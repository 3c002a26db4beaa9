// Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) are macros that expand to casts of
// addresses of global objects, which Swift cannot import; these inline functions hand them over.
#ifndef BACKPROP_CMPI_SHIM_H
#define BACKPROP_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm bp_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype bp_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype bp_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype bp_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Op bp_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op bp_mpi_max(void) { return MPI_MAX; }
static inline MPI_Errhandler bp_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int bp_mpi_success(void) { return MPI_SUCCESS; }
static inline int bp_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int bp_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline MPI_Request bp_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *bp_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline void *bp_mpi_in_place(void) { return MPI_IN_PLACE; }

#endif
