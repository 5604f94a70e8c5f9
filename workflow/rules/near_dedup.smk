import json

NEAR = PIPELINE.near_dedup


wildcard_constraints:
    band_job=r"\d+",


NEAR_BAND_JOBS = list(range(NEAR.band_jobs))
# Only the near-dedup settings: a change elsewhere reaches these jobs through
# their input files, and a change here reruns them. The band jobs do not get
# the Jaccard check's settings, so changing those reruns only the check.
NEAR_JSON = json.dumps({"near_dedup": NEAR.to_dict()}, sort_keys=True)
NEAR_BANDS_JSON = json.dumps(
    {
        "near_dedup": {
            key: value
            for key, value in NEAR.to_dict().items()
            if key not in ("verify_jaccard", "jaccard_threshold")
        }
    },
    sort_keys=True,
)


NEAR_BAND_EDGES = expand(
    f"{RESULTS}/dedup/near/bands/{{band_job}}.npz", band_job=NEAR_BAND_JOBS
)
# With the Jaccard check on, the clustering joins only the verified pairs.
NEAR_CLUSTER_EDGES = (
    [f"{RESULTS}/dedup/near/verified.npz"] if NEAR.verify_jaccard else NEAR_BAND_EDGES
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
        settings=NEAR_BANDS_JSON,
    shell:
        "{params.python} -m indw near-bands --job {wildcards.band_job}"
        " --settings {params.settings:q} --out {output:q}"
        " {input.signatures:q} > {log:q} 2>&1"


rule near_dedup_verify:
    input:
        edges=NEAR_BAND_EDGES,
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
        edges=NEAR_CLUSTER_EDGES,
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
