"""ONE's clone turn against the hand-rolled LangGraph bot, side by side in one run.

Runs ../shared/peers/langgraph_baseline.py (the tutorial bot: MessagesState, whole history replayed,
PostgresSaver, no pruning) as it is, with one difference in its set-up: the demo content is created
`published`. The peer script creates it as drafts, and ONE never shows drafts to fans, so as-is ONE's
clone has no knowledge in its prompt and looks it up with a tool on every question while the
baseline reads the drafts; `--as-is` runs the script untouched for that comparison too.

Both bots share one embedder and the offline model's vector cache, so whichever runs second finds
each fan's first message (the only text unique per fan) already embedded: `--baseline-first` runs
the baseline first, to see that cost from both sides.

    python bench/vs_langgraph.py [--as-is] [--baseline-first] [--fans 20 --turns 20]

Prints the peer's progress and ends with its JSON line (p50/p95 per turn, prompt tokens, checkpoint
bytes and the baseline/ONE ratios).
"""

from __future__ import annotations

import functools
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT.parent / "shared" / "peers" / "langgraph_baseline.py"


def main() -> None:
    flags = {"--as-is", "--baseline-first"}
    as_is, baseline_first = "--as-is" in sys.argv, "--baseline-first" in sys.argv
    sys.argv = [str(PEER), *[arg for arg in sys.argv[1:] if arg not in flags]]
    source = PEER.read_text()
    if baseline_first:
        order = 'for name in ("one", "baseline"):'
        if order not in source:
            raise SystemExit("the peer script no longer runs ONE first; --baseline-first needs updating")
        source = source.replace(order, 'for name in ("baseline", "one"):')
    peer = types.ModuleType("langgraph_baseline")
    peer.__file__ = str(PEER)
    sys.modules[peer.__name__] = peer  # LangGraph resolves the state's annotations through the module
    sys.path[0] = str(ROOT)  # the peer imports ONE's packages and bench/conversation.py from the root
    exec(compile(source, str(PEER), "exec"), peer.__dict__)
    if not as_is:
        peer.create_content = functools.partial(peer.create_content, status="published")
    peer.main()


if __name__ == "__main__":
    main()
