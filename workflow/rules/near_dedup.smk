import json

NEAR = PIPELINE.near_dedup


wildcard_constraints:
    band_job=r"\d+",


NEAR_BAND_JOBS = list(range(NEAR.band_jobs))
# Only the near-dedup settings: a change elsewhere reaches these jobs through
# their input files, and a change here reruns them.
NEAR_JSON = json.dumps({"near_dedup": NEAR.to_dict()}, sort_keys=True)


def near_edge_files():
    """Return the edge files that the clustering joins."""
    if NEAR.verify_jaccard:
        return [f"{RESULTS}/dedup/near/verified.npz"]
    return expand(
        f"{RESULTS}/dedup/near/bands/{{band_job}}.npz", band_job=NEAR_BAND_JOBS
    )


rule near_dedup_bands:
    input:
        signatures=expand(f"{RESULTS}/minhash/{{shard}}.npy", shard=SHARDS),
    output:
        f"{RESULTS}/dedup/near/bands/{{band_job}}.npz",
    log:
        "logs/dedup/near/bands/{band_job}.log",
    benchmark:
        "results/benchmarks/dedup/near/bands/{band_job}.tsv"
    conda:
        "../../environment.yml"
    params:
        python=PYTHON,
        settings=NEAR_JSON,
    shell:
        "{params.python} -m indw near-bands --job {wildcards.band_job}"
        " --settings {params.settings:q} --out {output:q}"
        " {input.signatures:q} > {log:q} 2>&1"


rule near_dedup_verify:
    input:
        edges=expand(
            f"{RESULTS}/dedup/near/bands/{{band_job}}.npz", band_job=NEAR_BAND_JOBS
        ),
        documents=expand(f"{RESULTS}/clean/{{shard}}.jsonl.zst", shard=SHARDS),
    output:
        f"{RESULTS}/dedup/near/verified.npz",
    log:
        "logs/dedup/near/verify.log",
    benchmark:
        "results/benchmarks/dedup/near/verify.tsv"
    conda:
        "../../environment.yml"
    params:
        python=PYTHON,
        settings=NEAR_JSON,
    shell:
        "{params.python} -m indw near-verify --settings {params.settings:q}"
        " --out {output:q} --documents {input.documents:q}"
        " --edges {input.edges:q} > {log:q} 2>&1"


rule near_dedup_cluster:
    input:
        edges=near_edge_files(),
        key_files=expand(f"{RESULTS}/clean/{{shard}}.keys.npy", shard=SHARDS),
    output:
        f"{RESULTS}/dedup/near/duplicates.npz",
    log:
        "logs/dedup/near/cluster.log",
    benchmark:
        "results/benchmarks/dedup/near/cluster.tsv"
    conda:
        "../../environment.yml"
    params:
        python=PYTHON,
    shell:
        "{params.python} -m indw near-cluster --out {output:q}"
        " --keys {input.key_files:q} --edges {input.edges:q} > {log:q} 2>&1"
