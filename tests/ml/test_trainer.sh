#!/bin/sh
# A small trainer speaking docs/ml-trainer-protocol.md, for the local backend's tests.
# Usage: test_trainer.sh --config job.json
# The job's base_model picks the behaviour: "test:<mode>" with mode
#   ok      started, 3 progress lines, a metric, writes output/adapter_config.json, done
#   fail    an error line, exit 3
#   crash   killed by SIGSEGV
#   hang    ignores SIGTERM and never ends (needs SIGKILL)
#   slow    progress every 0.2 s for 60 s; on SIGTERM says so and exits 143
#   slowok  progress for about 3 s, then done
#   nodone  exits 0 without a done line
[ "$1" = "--config" ] || { echo "usage: $0 --config job.json" >&2; exit 2; }
cfg=$2
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" "$cfg"; }
mode=$(field base_model | sed -n 's/^test:\([a-z]*\)$/\1/p')
out=$(field output_dir)
data=$(field training_data)
examples=$(grep -c . "$data")
echo "trainer: mode=$mode examples=$examples" >&2
echo "not a protocol line"
echo "{\"event\":\"started\",\"total_steps\":3}"

finish() {
    mkdir -p "$out" && echo '{"r":16}' > "$out/adapter_config.json"
    echo "{\"event\":\"metric\",\"name\":\"eval_loss\",\"value\":0.5}"
    echo "{\"event\":\"done\",\"artifact\":\"output\",\"metrics\":{\"train_loss\":0.25,\"examples\":$examples}}"
}

case "$mode" in
ok)
    for s in 1 2 3; do echo "{\"event\":\"progress\",\"step\":$s,\"total_steps\":3,\"epoch\":1,\"loss\":0.$s}"; done
    finish ;;
fail)
    echo '{"event":"error","message":"CUDA out of memory"}'; exit 3 ;;
crash)
    kill -SEGV $$ ;;
hang)
    trap '' TERM
    while :; do sleep 1; done ;;
slow)
    trap 'echo "{\"event\":\"error\",\"message\":\"stopped by SIGTERM\"}"; exit 143' TERM
    s=0
    while [ $s -lt 300 ]; do s=$((s + 1)); echo "{\"event\":\"progress\",\"step\":$s,\"total_steps\":300}"; sleep 0.2; done
    finish ;;
slowok)
    s=0
    while [ $s -lt 15 ]; do s=$((s + 1)); echo "{\"event\":\"progress\",\"step\":$s,\"total_steps\":15}"; sleep 0.2; done
    finish ;;
nodone)
    exit 0 ;;
*)
    echo "{\"event\":\"error\",\"message\":\"unknown test mode '$mode'\"}"; exit 2 ;;
esac
