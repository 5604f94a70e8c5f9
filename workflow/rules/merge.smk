rule merge_shards:
    input:
        documents=expand(f"{RESULTS}/clean/{{shard}}.jsonl.zst", shard=SHARDS),
        stats=expand(f"{RESULTS}/clean/{{shard}}.stats.json", shard=SHARDS),
        exact=expand(f"{RESULTS}/dedup/exact/{{bucket}}.npz", bucket=BUCKETS),
        near=near_duplicate_inputs(),
    output:
        MERGE_OUTPUTS,
    log:
        "logs/merge.log",
    benchmark:
        "results/benchmarks/merge.tsv"
    conda:
        "../../environment.yml"
    params:
        python=PYTHON,
        settings=PIPELINE_JSON,
        results=lambda wildcards, output: results_folder(output[0], 1),
    shell:
        "{params.python} -m indw merge --results {params.results:q}"
        " --settings {params.settings:q} --stats {input.stats:q}"
        " --exact {input.exact:q} --near {input.near:q} > {log:q} 2>&1"
