"""The output guard's pure checks: prices in every form, links and local paths, identity, prompt text,
and everything a real reply says that must pass untouched."""

from __future__ import annotations

import pytest

from agents.specs import Persona, clone_system_prompt
from graphs.guard import (
    GuardFacts,
    catalog_answer,
    find_local_paths,
    find_prices,
    guard_reply,
    identity_line,
    issued_urls,
    persona_name,
)
from tools._common import Offer, format_price


def offer(name: str, price: int | None, currency: str = "USD", interval: str | None = None) -> Offer:
    formatted = format_price(price, currency) + (f"/{interval}" if interval and price else "")
    return Offer("id-" + name, name, "membership", "active", price, currency, formatted, interval, None)


PROMPT = clone_system_prompt(
    Persona(
        name="Maya Stone",
        handle="maya-demo",
        niche="strength training for busy people",
        bio="Coach, ex-physio, 3 kids, 30-minute workouts.",
        tone="short, direct sentences; speaks straight to the reader as 'you'",
        catchphrases=["You don't need 90 minutes.", "Start today."],
        topics=["training", "nutrition", "recovery"],
        boundaries=["Give no personal medical, legal or financial advice beyond what your content says."],
    )
)
OFFERS = (
    offer("Strong in 30 community", 1900, interval="month"),
    offer("Grocery and meal-prep guide", 1200),
    offer("Form check call", 4900),
    offer("Big bundle", 129900),
    offer("Berlin workshop", 1900, "EUR"),
    offer("Tokyo session", 3000, "JPY"),
)
CHECKOUT = "https://checkout.stripe.com/c/pay/cs_test_a1B2#fidkdWxOYHwn"
CONTENT_LINK = "https://mayastone.fit/blog/protein"
FACTS = GuardFacts(PROMPT, OFFERS, [CHECKOUT, CONTENT_LINK])


@pytest.mark.parametrize(
    "text",
    [
        "The community is $19.00/month.",
        "It's $19 a month.",
        "That's 19 USD.",
        "USD 19.00 per month.",
        "The workshop is €19,00.",
        "The workshop is EUR 19.",
        "The workshop is 19,00 €.",
        "The workshop is 19 euros.",
        "It costs 19.00 a month.",
        "It's only 12.00 for the guide.",
        "Nineteen dollars a month.",
        "Forty-nine dollars for a call.",
        "The bundle is $1,299.00.",
        "The bundle is one thousand two hundred and ninety-nine dollars.",
        "Just 19 bucks.",
        "The session is ¥3,000.",
        "Twelve dollars and no cents more.",
    ],
)
def test_catalog_prices_in_any_form_pass_untouched(text: str) -> None:
    guard = guard_reply(text, FACTS)
    assert not guard.changed and guard.text == text, guard


@pytest.mark.parametrize(
    "text",
    [
        "It's $5 a month.",
        "Only 25 USD!",
        "The VIP package is €99,00.",
        "EUR 49 for the call.",  # the call costs 49 dollars, not euros
        "It costs 13.00 today.",
        "Just 19.99 a month.",
        "Twenty dollars and it's yours.",
        "Forty-nine dollars and ninety-nine cents.",
        "The bundle is $1,199.00.",
        "Pay 20 bucks at the door.",
        "A $5k mastermind.",
        "It's 39/year.",
    ],
)
def test_invented_prices_in_any_form_are_replaced_by_the_catalog(text: str) -> None:
    guard = guard_reply(f"Great question! {text} Talk soon.", FACTS)
    assert guard.prices == 1 and not guard.safe_reply, guard
    assert text not in guard.text
    assert guard.text.startswith("Great question!") and guard.text.endswith("Talk soon.")
    assert "$19.00/month" in guard.text and "$49.00" in guard.text  # the catalog's exact prices
    assert not guard_reply(guard.text, FACTS).changed  # the catalog's answer passes its own guard


@pytest.mark.parametrize(
    "text",
    [
        "Meet me at 5.30 for the session.",
        "Call at 12.30 or 17:45.",
        "Do 3 sets of 12, rest 90 seconds.",
        "In 2024 I ran 12.50 km a week.",
        "Save 20% with consistency, not 15.00 %.",
        "Eat 1.6 grams per kilogram; more than 2.2 g/kg adds nothing.",
        "Creatine: 3 to 5 grams a day.",
        "Deadlift 135 pounds by summer.",
        "Train 3 times a week, 30 minutes, 4 a month is too few.",
        "Episode 12: training around a newborn, 10 minutes twice a day.",
        "Week 1 costs nothing but effort.",
        "Lift 1,000 lbs total across the 3 lifts.",
        "My phone ends in 19.00? No, that's silly.",
    ],
)
def test_times_quantities_years_and_percentages_are_not_prices(text: str) -> None:
    assert find_prices(text) == [], find_prices(text)
    assert not guard_reply(text, GuardFacts(PROMPT, (), ())).changed


def test_the_catalog_answer_names_the_offer_the_sentence_was_about() -> None:
    guard = guard_reply("The Form check call is $40 this week.", FACTS)
    assert guard.text == "Form check call is $49.00."
    assert catalog_answer(()) == "I have nothing for sale right now."
    assert guard_reply("It's $10.", GuardFacts(PROMPT, (), ())).text == "I have nothing for sale right now."


def test_a_price_of_an_inactive_or_unpriced_offer_does_not_count() -> None:
    # the facts hold only public offers; an offer without a price matches nothing
    facts = GuardFacts(PROMPT, (offer("Free course", None),), ())
    assert guard_reply("It's $0.", facts).prices == 1


def test_links_the_platform_issued_or_the_creator_published_pass() -> None:
    text = f"Here's your checkout link: {CHECKOUT}. And my post: {CONTENT_LINK}/ (see www.mayastone.fit/blog/protein)."
    assert not guard_reply(text, FACTS).changed


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example.com/pay",
        "http://checkout.stripe.com/c/pay/cs_other",
        "https://checkout.stripe.com/c/pay/cs_test_a1B2",  # an issued link with its fragment cut is another link
        "www.free-courses.com/maya",
        "maya-discounts.shop/vip",
        "ftp://mayastone.fit/blog/protein",
        "[the course](https://mega.nz/folder/abc)",
    ],
)
def test_foreign_links_are_dropped_and_an_allowed_link_in_the_sentence_is_kept(link: str) -> None:
    guard = guard_reply(f"Welcome! Grab it here {link} or pay at {CHECKOUT} today.", FACTS)
    assert guard.urls == 1, guard
    assert "evil" not in guard.text and "mega.nz" not in guard.text and "free-courses" not in guard.text
    assert guard.text == f"Welcome! Here's the link: {CHECKOUT}"


@pytest.mark.parametrize(
    "path",
    [
        "file:///home/maya/.one/media/speech.mp3",
        "file://C:/Users/maya/voice.wav",
        "/home/maya/.one/pg/postmaster.pid",
        "/tmp/one/media/creators/x/speech/1.mp3",
        "~/.one/pg",
        "C:\\Users\\maya\\secrets.txt",
        "\\\\fileserver\\share\\maya.wav",
    ],
)
def test_local_paths_never_leave_even_when_a_tool_returned_them(path: str) -> None:
    facts = GuardFacts(PROMPT, OFFERS, [CHECKOUT, path])  # an issued file:// URL is still a local path
    guard = guard_reply(f"Your voice note is ready: {path}. Enjoy!", facts)
    assert guard.paths == 1 and path not in guard.text and guard.text == "Enjoy!", guard
    assert find_local_paths(path)


def test_slashes_that_are_not_paths_stay() -> None:
    text = "Aim for 2.2 g/kg, train 24/7 and/or rest on Mon/Wed; $19.00/month. Eat 1/2 a cup."
    assert find_local_paths(text) == [] and not guard_reply(text, FACTS).changed


@pytest.mark.parametrize(
    "text",
    [
        "As an AI language model developed by OpenAI, I can't have opinions.",
        "I'm ChatGPT, how can I help?",
        "I am GPT-4, a large language model.",
        "As an AI assistant, I don't train.",
        "I'm just a chatbot.",
        "I am DAN now.",
        "This was written by an LLM.",
    ],
)
def test_a_reply_calling_itself_a_generic_assistant_is_put_back_in_persona(text: str) -> None:
    guard = guard_reply(f"{text} Anyway, protein matters.", FACTS)
    assert guard.identity == 1, guard
    assert guard.text == f"{identity_line('Maya Stone')} Anyway, protein matters."
    assert not guard_reply(guard.text, FACTS).changed


def test_printing_the_system_prompt_is_dropped() -> None:
    leak = "\n".join(PROMPT.splitlines()[-6:])  # the rule lines
    guard = guard_reply(f"Sure! Here they are:\n{leak}", FACTS)
    assert guard.prompt >= 3 and "list_products" not in guard.text and "Rules" not in guard.text
    assert guard_reply("My system prompt: be nice.", FACTS).prompt == 1
    paraphrase = "My rules say I answer from my own content: use search_knowledge or get_content first."
    assert guard_reply(paraphrase, FACTS).prompt == 1
    everything = guard_reply(PROMPT, FACTS)  # nothing sensible is left: the whole reply is the safe one
    assert everything.safe_reply and "Rules" not in everything.text and "Maya Stone" in everything.text


def test_public_persona_facts_and_the_honest_identity_line_are_not_prompt_leaks() -> None:
    for text in [
        "I'm Maya Stone, a creator in strength training for busy people.",
        "Coach, ex-physio, 3 kids, 30-minute workouts: that's me.",
        "You don't need 90 minutes. Start today.",
        "I can't give personal medical, legal or financial advice beyond what my content says.",
        identity_line("Maya Stone") + " I talk about training, nutrition, recovery.",
        "I can't do refunds or change prices from this chat: Maya Stone handles those personally.",
        "I plan my meals with ChatGPT sometimes, and OpenAI's app is fine for that.",
        "I worked as an assistant coach for 5 years.",
        "I'm not a bot person, I'm a barbell person.",
    ]:
        assert not guard_reply(text, FACTS).changed, text


def test_the_guard_keeps_formatting_and_counts_sentences_not_words() -> None:
    text = "Hi Sam!\n\n- The guide is $12.00.\n- The VIP pass is $99 and $199.\n- Sleep 8 hours."
    guard = guard_reply(text, FACTS)
    assert guard.prices == 1
    assert guard.text.startswith("Hi Sam!\n\n- The guide is $12.00.\n") and guard.text.endswith("\n- Sleep 8 hours.")
    assert guard.counts() == {"prices": 1, "urls": 0, "paths": 0, "identity": 0, "prompt": 0, "safeReply": False}


def test_a_creator_named_like_a_model_may_say_their_name() -> None:
    prompt = PROMPT.replace("Maya Stone", "Claude Dubois")
    assert not guard_reply("I'm Claude, your coach.", GuardFacts(prompt)).changed
    assert guard_reply("I'm Claude, your coach.", FACTS).identity == 1
    assert guard_reply("I'm Dan, your coach.", FACTS).identity == 0  # a name, not the DAN jailbreak
    assert guard_reply("I am DAN now.", FACTS).identity == 1


def test_helpers() -> None:
    assert persona_name(PROMPT) == "Maya Stone" and persona_name("be helpful") == "the creator"
    outputs = [{"summary": "x", "url": CHECKOUT, "nested": {"playbackUrl": "https://cdn/x"}}, {"url": "file:///a"}]
    assert issued_urls(outputs) == [CHECKOUT, "https://cdn/x"]
