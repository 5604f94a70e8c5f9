rule clean_shard:
    input:
        shard=lambda wildcards: SHARD_PATHS[wildcards.shard],
    output:
        **clean_outputs(),
    log:
        "logs/clean/{shard}.log",
    benchmark:
        "results/benchmarks/clean/{shard}.tsv"
    conda:
        "../../environment.yml"
    threads: config.get("clean_threads", 1)
    params:
        python=PYTHON,
        settings=PIPELINE_JSON,
        results=lambda wildcards, output: results_folder(output.stats, 2),
    shell:
        "{params.python} -m indw clean-shard --shard {input.shard:q}"
        " --results {params.results:q} --settings {params.settings:q}"
        " --threads {threads} > {log:q} 2>&1"
