rule exact_dedup_bucket:
    input:
        key_files=expand(f"{RESULTS}/clean/{{shard}}.keys.npy", shard=SHARDS),
    output:
        f"{RESULTS}/dedup/exact/{{bucket}}.npz",
    log:
        "logs/dedup/exact/{bucket}.log",
    benchmark:
        "results/benchmarks/dedup/exact/{bucket}.tsv"
    conda:
        "../../environment.yml"
    params:
        python=PYTHON,
        buckets=len(BUCKETS),
    shell:
        "{params.python} -m indw dedup-exact --bucket {wildcards.bucket}"
        " --buckets {params.buckets} --out {output:q} {input.key_files:q}"
        " > {log:q} 2>&1"
