"""Handmade transcripts for the ranker's unit tests (a uniquely named module, imported by tests)."""

from __future__ import annotations

from collections.abc import Sequence

from clipforge_common.transcript import Sentence, Transcript, Word

COFFEE = [
    "Good coffee starts with fresh beans roasted within the last few weeks.",
    "Roasting coffee beans changes their flavor from grassy to sweet and chocolatey.",
    "A burr grinder gives coffee grounds of even size for a balanced brew.",
    "Espresso forces hot water through finely ground coffee at high pressure.",
    "The espresso shot should pull in about thirty seconds for sweet coffee.",
    "Milk for a latte is steamed until the foam feels silky, not bubbly.",
    "Pour over coffee rewards a slow spiral pour and a gooseneck kettle.",
    "Water temperature for brewing coffee sits just below boiling.",
    "Light roast coffee beans keep more acidity and fruity flavor notes.",
    "Dark roast beans taste bitter and smoky because the roasting goes longer.",
    "Store coffee beans in an airtight jar away from light and heat.",
    "Grind the coffee right before brewing so the aroma stays in the cup.",
]
SPACE = [
    "The rocket launched from the pad and climbed into orbit around Earth.",
    "Astronauts on the space station orbit the planet every ninety minutes.",
    "Mars has a thin atmosphere, red dust storms and ancient dry riverbeds.",
    "The telescope captured light from galaxies billions of light years away.",
    "A spacecraft needs enormous speed to escape the gravity of the planet.",
    "The moon landing showed that astronauts could walk on another world.",
    "Saturn's rings are made of ice and rock orbiting the giant planet.",
    "Rovers on Mars drill into rock to search for signs of ancient water.",
    "The space telescope unfolds its mirror far beyond the orbit of the moon.",
    "Solar panels power the spacecraft as it travels between the planets.",
    "Astronauts train underwater to practice spacewalks outside the station.",
    "Engineers test every rocket engine before a launch to orbit.",
]
FINANCE = [
    "Investing in index funds spreads your money across hundreds of stocks.",
    "Compound interest grows savings faster the earlier you start investing.",
    "A budget tracks income and expenses so debt does not pile up.",
    "Stock prices move with interest rates, inflation and company earnings.",
    "An emergency fund covers six months of expenses without new debt.",
    "Bonds pay interest and usually swing less than stocks in a portfolio.",
    "Credit card debt charges interest that eats into monthly savings.",
    "Diversification lowers portfolio risk when one market falls sharply.",
    "Retirement accounts let investments grow with lower taxes on the gains.",
    "Inflation slowly reduces what your savings and cash can buy.",
    "Fees on mutual funds quietly reduce investment returns over decades.",
    "Rebalancing the portfolio keeps stocks and bonds at the target mix.",
]


def make_transcript(
    sentences: Sequence[str],
    *,
    wps: float = 2.5,
    gap: float = 0.4,
    start: float = 0.0,
    video_id: str | None = "video-1",
) -> Transcript:
    """Words evenly timed at ``wps`` words per second, ``gap`` seconds of silence between sentences."""
    words: list[Word] = []
    sents: list[Sentence] = []
    t = start
    per_word = 1.0 / wps
    for text in sentences:
        first = len(words)
        s_start = t
        for token in text.split():
            words.append(Word(word=token, start=round(t, 3), end=round(t + per_word * 0.9, 3)))
            t += per_word
        sents.append(
            Sentence(
                text=text,
                start=round(s_start, 3),
                end=words[-1].end,
                first_word=first,
                last_word=len(words) - 1,
            )
        )
        t = words[-1].end + gap
    return Transcript(
        video_id=video_id,
        engine="test",
        engine_version="0",
        duration=round(t, 3),
        words=words,
        sentences=sents,
    )
