#!/usr/bin/env python3
"""NanoAOD-like jet tables at particle level, generated (Pythia 8 + FastJet): every anti-kT
R = 0.4 jet above 20 GeV (|eta| < 4.7) in QCD, tt̄, W+jets and Z+jets events at 13.6 TeV, one row
per jet, full float32 precision (no mantissa truncation, unlike real NanoAOD).

Particle level, generated: no detector, no pile-up; "energy fractions" come from the
constituents' particle IDs, not from particle-flow candidates.

Columns (NanoAOD names where one exists):
  pt eta phi mass            jet four-vector (GeV)
  chHEF neHEF chEmEF neEmEF muEF   energy fractions: charged hadrons, neutral hadrons,
                             electrons (charged EM), photons (neutral EM), muons
  nConstituents nCh nNh nPhotons nElectrons nMuons   multiplicities
                             (nConstituents = nCh + nNh + nPhotons + nElectrons + nMuons exactly)
  ptD girth                  sqrt(sum pt²)/sum pt; sum pt·ΔR / pt
  leadPtFrac                 leading constituent pt / jet pt
  process jetIdx event_idx   0 QCD, 1 tt̄, 2 W+jets, 3 Z+jets; jet index in the event (pt order);
                             event number within the run

Requirements (pinned, binary wheels only; the venv of ../../shared/tools/gen_jets.py serves):
  python3 -m venv venv && venv/bin/pip install --only-binary=:all: pythia8mc==8.317.2 \
      fastjet==3.5.2.0 awkward==2.14.0 vector==1.9.0 numpy
Usage:
  python gen_nano_jets.py --events 4000 --seed 1 --out nano_gen.npy   (writes .npy and .columns)
Processes are mixed round-robin in batches of --batch events (one Pythia instance each).
"""
import argparse
import signal
import sys
import time

import awkward as ak
import fastjet
import numpy as np
import pythia8mc

COLUMNS = [
    "pt", "eta", "phi", "mass", "chHEF", "neHEF", "chEmEF", "neEmEF", "muEF",
    "nConstituents", "nCh", "nNh", "nPhotons", "nElectrons", "nMuons",
    "ptD", "girth", "leadPtFrac", "process", "jetIdx", "event_idx",
]
# Stable charged particles in Pythia's default final state (everything else that is stable is neutral).
CHARGED = np.array([11, 13, 211, 321, 2212, 3112, 3222, 3312, 3334])
NEUTRINOS = np.array([12, 14, 16])

PROCESSES = {
    0: ["HardQCD:all = on", "PhaseSpace:pTHatMin = 15"],
    1: ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on"],
    2: ["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on", "PhaseSpace:pTHatMin = 15"],
    3: ["WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on",
        "WeakZ0:gmZmode = 2", "PhaseSpace:pTHatMin = 15"],
}


def make_pythia(proc, seed):
    p = pythia8mc.Pythia("", False)
    for s in ["Beams:eCM = 13600.", "Random:setSeed = on", f"Random:seed = {seed}", "Print:quiet = on",
              "Next:numberCount = 0", "Next:numberShowEvent = 0", "Next:numberShowInfo = 0",
              "Next:numberShowProcess = 0"] + PROCESSES[proc]:
        if not p.readString(s):
            sys.exit(f"bad Pythia setting {s}")
    if not p.init():
        sys.exit("Pythia init failed")
    return p


def jets_of_batch(ev, jetdef, proc, first_event):
    """One batch of events -> (njets, len(COLUMNS)) float64 rows."""
    prt = ev.prt
    aid = np.abs(prt.id)
    vis = (prt.status > 0) & ~((aid == 12) | (aid == 14) | (aid == 16))
    p = prt.p[vis]
    pid = ak.to_numpy(ak.flatten(np.abs(prt.id[vis])))
    parts = ak.zip({"px": p.px, "py": p.py, "pz": p.pz, "E": p.e}, with_name="Momentum4D")
    cs = fastjet.ClusterSequence(parts, jetdef)
    jj = cs.inclusive_jets(min_pt=20.0)
    cidx = cs.constituent_index(min_pt=20.0)
    # Flat particle arrays of the batch, and every constituent's index into them.
    px = ak.to_numpy(ak.flatten(p.px)); py = ak.to_numpy(ak.flatten(p.py))
    pz = ak.to_numpy(ak.flatten(p.pz)); pe = ak.to_numpy(ak.flatten(p.e))
    poff = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.num(p.px)))])
    njet_ev = ak.to_numpy(ak.num(cidx, axis=1))
    ncon = ak.to_numpy(ak.flatten(ak.num(cidx, axis=2)))
    if len(ncon) == 0:
        return np.zeros((0, len(COLUMNS)))
    ev_of_jet = np.repeat(np.arange(len(njet_ev)), njet_ev)
    flat = ak.to_numpy(ak.flatten(ak.flatten(cidx, axis=2))) + np.repeat(poff[ev_of_jet], ncon)
    jstart = np.concatenate([[0], np.cumsum(ncon)[:-1]])
    cpid, ce = pid[flat], pe[flat]
    cpx, cpy, cpz = px[flat], py[flat], pz[flat]
    cpt = np.hypot(cpx, cpy)
    jpx = ak.to_numpy(ak.flatten(jj.px)); jpy = ak.to_numpy(ak.flatten(jj.py))
    jpz = ak.to_numpy(ak.flatten(jj.pz)); je = ak.to_numpy(ak.flatten(jj.E))
    jpt = np.hypot(jpx, jpy)
    jeta = np.arcsinh(jpz / jpt)
    jphi = np.arctan2(jpy, jpx)
    jm = np.sqrt(np.maximum(je**2 - jpx**2 - jpy**2 - jpz**2, 0.0))
    charged = np.isin(cpid, CHARGED)
    cats = {
        "chH": charged & (cpid != 11) & (cpid != 13),
        "nH": ~charged & (cpid != 22),
        "ph": cpid == 22,
        "el": cpid == 11,
        "mu": cpid == 13,
    }
    sumj = lambda v: np.add.reduceat(v, jstart)  # noqa: E731
    frac = {k: sumj(np.where(m, ce, 0.0)) / je for k, m in cats.items()}
    mult = {k: sumj(m.astype(np.int64)) for k, m in cats.items()}
    ceta = np.arcsinh(np.divide(cpz, cpt, out=np.zeros_like(cpz), where=cpt > 0))
    cphi = np.arctan2(cpy, cpx)
    rj = np.repeat(np.arange(len(ncon)), ncon)
    dphi = (cphi - jphi[rj] + np.pi) % (2 * np.pi) - np.pi
    dr = np.hypot(ceta - jeta[rj], dphi)
    sumpt = sumj(cpt)
    ptd = np.sqrt(sumj(cpt**2)) / sumpt
    girth = sumj(cpt * dr) / jpt
    lead = np.maximum.reduceat(cpt, jstart) / jpt
    # Jet index in pt order within its event.
    order_key = ev_of_jet * 1e7 - jpt
    rank = np.empty(len(jpt), np.int64)
    srt = np.argsort(order_key, kind="stable")
    evs = ev_of_jet[srt]
    starts = np.concatenate([[0], np.cumsum(njet_ev)[:-1]])
    rank[srt] = np.arange(len(srt)) - starts[evs]
    keep = np.abs(jeta) < 4.7
    rows = np.stack([
        jpt, jeta, jphi, jm, frac["chH"], frac["nH"], frac["el"], frac["ph"], frac["mu"],
        ncon, mult["chH"], mult["nH"], mult["ph"], mult["el"], mult["mu"],
        ptd, girth, lead, np.full(len(jpt), proc), rank, first_event + ev_of_jet,
    ], axis=1)
    return rows[keep]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=4000, help="events in all (split over the processes)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--max-cpu-seconds", type=float, default=None, help="stop after this much CPU time")
    ap.add_argument("--max-wall-seconds", type=float, default=None, help="stop after this much wall time")
    ap.add_argument("--out", required=True, help="output .npy (a .columns file is written beside it)")
    args = ap.parse_args()
    if not args.out.endswith(".npy"):
        sys.exit(f"--out {args.out}: must end in .npy")
    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4)
    gens = {k: make_pythia(k, args.seed * 10 + k) for k in PROCESSES}
    chunks, done, t0 = [], 0, time.time()
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))  # SIGTERM: write what is there
    while done < args.events and not stop["now"] and not (
        (args.max_cpu_seconds and time.process_time() > args.max_cpu_seconds)
        or (args.max_wall_seconds and time.time() - t0 > args.max_wall_seconds)
    ):
        for proc, py8 in gens.items():
            n = min(args.batch, args.events - done)
            if n <= 0:
                break
            rows = jets_of_batch(py8.nextBatch(n), jetdef, proc, done)
            chunks.append(rows)
            done += n
        el = time.time() - t0
        njets = sum(len(c) for c in chunks)
        print(f"events {done}  jets {njets}  {done / el:.1f} ev/s  {njets / el:.1f} jets/s", flush=True)
    table = np.concatenate(chunks).astype(np.float32)
    tmp = args.out + ".tmp.npy"
    np.save(tmp, table)
    import os
    os.replace(tmp, args.out)
    with open(args.out[:-4] + ".columns", "w") as f:
        f.write("\n".join(COLUMNS) + "\n")
    el = time.time() - t0
    per = np.bincount(table[:, COLUMNS.index("process")].astype(int), minlength=4)
    cpu = time.process_time()
    print(f"DONE {len(table)} jets from {done} events in {el:.1f} s wall, {cpu:.1f} s CPU "
          f"({len(table) / cpu:.1f} jets per CPU-second); "
          f"per process QCD/ttbar/W/Z: {per.tolist()}", flush=True)


if __name__ == "__main__":
    main()
