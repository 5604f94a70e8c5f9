# With the dask backend and no scheduler named, the run starts one local
# cluster before its first job and names it to every job through
# INSTANT_DASK_SCHEDULER, so the cleaning jobs share its workers instead of
# each paying for a cluster of its own. Snakemake runs onstart only in the
# process that schedules the jobs, and not for dry runs. A job that an
# executor sends to another machine starts its own local cluster instead.


def start_dask_for_run():
    if RUN.backend != "dask" or not workflow.local_exec:
        return
    from indw.dask_backend import SchedulerUnreachableError, prepare_run_cluster

    try:
        prepare_run_cluster(RUN, workflow.cores)
    except SchedulerUnreachableError as error:
        raise WorkflowError(str(error)) from None


onstart:
    start_dask_for_run()
