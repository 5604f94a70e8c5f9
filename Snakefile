import os

from snakemake.utils import min_version

min_version("9.0")


# The default config sits beside this file, so --directory elsewhere still
# finds it; a relative input_dir is read from the working directory.
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/clean.smk"
include: "workflow/rules/dedup.smk"
include: "workflow/rules/near_dedup.smk"
include: "workflow/rules/merge.smk"
include: "workflow/rules/dask.smk"


rule all:
    default_target: True
    input:
        MERGE_OUTPUTS,
