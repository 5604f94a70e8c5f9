# With the dask backend and no scheduler named, the run starts one local
# cluster before its first job and names it to every job through
# INSTANT_DASK_SCHEDULER, so the cleaning jobs share its workers instead of
# each paying for a cluster of its own. Snakemake runs onstart only in the
# process that schedules the jobs, and not for dry runs; a job that Snakemake
# sends elsewhere (a cluster executor) starts its own local cluster instead.


def start_dask_for_run():
    if RUN.backend != "dask" or not workflow.local_exec:
        return
    from indw.dask_backend import (
        SchedulerUnreachableError,
        check_scheduler,
        start_run_cluster,
    )

    if RUN.dask_scheduler:
        # Fail once, before any job, rather than once per cleaning job.
        try:
            check_scheduler(RUN.dask_scheduler)
        except SchedulerUnreachableError as error:
            raise WorkflowError(str(error)) from None
        return
    workers = RUN.workers or workflow.cores
    os.environ["INSTANT_DASK_SCHEDULER"] = start_run_cluster(workers)


onstart:
    start_dask_for_run()
