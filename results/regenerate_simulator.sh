#!/usr/bin/env bash
# Regenerate every simulator report in results/ (everything that depends on archsim's models).
# The compression experiments (results/compress, accuracy parts of results/pqa and results/permdnn)
# train models and take longer; their commands are in their folders' README.md.
# Run from the repository root with archsim installed: bash results/regenerate_simulator.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for iso in throughput area pes; do
    archsim compare --workload resnet18 --designs ws,ews,ews-c,ews-cm,mvq,s2ta-w --n 1 --m 4 --d 16 --k 256 --iso "$iso" --out results > /dev/null
done
archsim compare --workload resnet50 --designs ws,ews,ews-c,ews-cm,mvq,s2ta-w --n 1 --m 4 --d 16 --k 256 --iso throughput --out results > /dev/null
python -m archsim.report.sparse --out results/sparse
python -m archsim.report.mvq --out results/mvq
python -m benchmarks.ews_vs_ws --out results/ews_vs_ws
python -m archsim.pqa.report --out results/pqa
python -m archsim.permdnn.report --out results/permdnn
PYTHON=python bash benchmarks/scalesim_crosscheck/run.sh
echo "simulator reports regenerated"
