// MPI's C API for Swift. OpenMPI defines its predefined handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) and a few
// constants (MPI_IN_PLACE, MPI_STATUS_IGNORE) as macros with casts, which Swift does not import; these inline
// functions return them. Only standard MPI names are used, so the shim builds against MPICH as well.
#ifndef CATENAMN_SHIM_H
#define CATENAMN_SHIM_H
#include <mpi.h>
#include <stdlib.h>

static inline MPI_Comm cmn_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm cmn_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Info cmn_info_null(void) { return MPI_INFO_NULL; }
static inline int cmn_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }
static inline int cmn_undefined(void) { return MPI_UNDEFINED; }
static inline int cmn_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int cmn_success(void) { return MPI_SUCCESS; }
static inline int cmn_max_processor_name(void) { return MPI_MAX_PROCESSOR_NAME; }

static inline MPI_Datatype cmn_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype cmn_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype cmn_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype cmn_uint8(void) { return MPI_UINT8_T; }

static inline MPI_Op cmn_op_sum(void) { return MPI_SUM; }
static inline MPI_Op cmn_op_max(void) { return MPI_MAX; }
static inline MPI_Op cmn_op_min(void) { return MPI_MIN; }

static inline void *cmn_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *cmn_status_ignore(void) { return MPI_STATUS_IGNORE; }

// At exit: a process leaving with status 0 finalises MPI; one leaving with another status (an error printed by a
// command-line tool's `exit(1)`) aborts the whole job with that status instead, because MPI_Finalize would wait
// for the other processes, which may be waiting for this one in a collective: the job would hang. glibc's on_exit
// passes the status; elsewhere the handler can only finalise.
static void cmn_exit_handler(int status, void *unused) {
    (void)unused;
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized) return;
    if (status == 0) {
        MPI_Finalize();
    } else {
        MPI_Abort(MPI_COMM_WORLD, status);
    }
}
#if defined(__GLIBC__)
static inline void cmn_install_exit_handler(void) { on_exit(cmn_exit_handler, 0); }
#else
static void cmn_exit_finalize(void) { cmn_exit_handler(0, 0); }
static inline void cmn_install_exit_handler(void) { atexit(cmn_exit_finalize); }
#endif

#endif
