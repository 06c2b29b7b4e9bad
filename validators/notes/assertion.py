"""The assertion layer, in the manner of ConText: is a mention negated, planned or hypothetical, or
about a family member, within its clause.

Scopes are bounded by the clause (sentences split further at "but", "however", "reports"... where
ConText's terminators end a scope) and by word windows, since polars' regex engine has no
look-around. Pseudo-triggers ("no relief despite", "without complication", "no change in") are
blanked before negation is read: "no relief despite 8 weeks of PT" says the therapy happened.
"""

from __future__ import annotations

import polars as pl

from cleanclaim.validators.notes.lexicon import WORD
from cleanclaim.validators.notes.normalize import BLANK

# the auxiliaries a "not" is contracted onto ("doesn't", "hasnt")
AUXILIARIES = "does|do|did|has|have|had|is|are|was|were"
PSEUDO_TRIGGERS = (
    r"\b(?:no|not|without|w/o)\s+(?:significant\s+|much\s+|any\s+|lasting\s+|sustained\s+|adequate\s+)?"
    r"(?:relief|improvement|benefit|help|change|success|response|resolution)\b"
    rf"|\b(?:{AUXILIARIES})\s*(?:not|n'?t)\s+(?:been\s+)?(?:help|helped|improve|improved|work|worked|respond|responded|resolve|resolved|relieve|relieved|controlled)\b"
    # a contracted or spelled-out "not" about a habit or a memory denies no finding ("doesn't smoke")
    r"|\b(?:does|do|did)\s*(?:not|n'?t)\s+(?:smoke|drink|know|remember|recall|drive)\b"
    r"|\bfailed to\s+(?:improve|respond|help|relieve)\b"
    r"|\b(?:not|poorly|inadequately)\s+(?:controlled|relieved|helped|improved)\s+(?:with|by|on)\b"
    r"|\b(?:without|w/o)\s+(?:complications?|difficulty|incident|problems?|event|(?:an?\s+)?(?:assistive\s+)?(?:device|ad|aid|assist\w*|help))\b"
    r"|\bnot only\b|\bno\s+(?:change|increase|decrease)\s+in\b|\bnot\s+certain\b"
    r"|\bnegative\s+(?:impact|effect)\b|\bno further\b"
    # what the patient went without is a circumstance ("grinding metal w/o safety glasses, felt
    # something fly into his eye")
    r"|\b(?:without|w/o|no)\s+(?:\w+\s+)?(?:(?:eye|ear|hearing|face) protection|protective\s+\w+|eyewear|goggles|"
    r"safety\s+(?:glasses|goggles|gear|equipment)|gloves|helmet|seat\s?belt|ppe)\b"
    # a study done without contrast ("CT C-spine w/o: 78F ground level fall")
    r"|\b(?:w/o|without)\s+(?:iv\s+|oral\s+)?contrast\b|\bw/o\s*:|\bw\s*(?:/|and|&)\s*w/o\b"
)
PRE_NEGATION = (
    r"\b(?:no|not|denies|denied|deny|denying|without|w/o|negative for|neg for|absence of|absent|free of|"
    r"never|none|nor|declin\w*|refus\w*|allergic to|allerg(?:y|ies) to|contraindicated|rules? out|ruled out|fails? to reveal|no evidence of|no signs? of|"
    # a contracted denial ("doesn't have", "hasn't had"); not "can't" or "won't", which tell of ability
    # and intent ("can't sleep for the pain down her leg")
    rf"(?:{AUXILIARIES})n'?t)\b"
)
POST_NEGATION = (
    r"(?:negative|neg|absent|denied|none|not present|not elicited|ruled out|not seen|not identified|"
    r"normal|unremarkable|intact|resolved|contraindicated|\(\s*-\s*\)|-\s*(?:bilaterally|bilat|b/l|on the|$|,)|"
    # a field's answer ("Radiating pain: No", "Tried PT Y/N: N")
    r":\s*no?\s*$)"
)
RESULT_BEFORE = r"\b(?:negative|neg|normal|unremarkable)\b"
# a plan's header kept as its clause's evidence ("plan: l5 tfesi performed today", "assessment/plan:")
PLAN_HEADER = r"^\W*(?:[a-z-]+\s*/\s*|[a-z-]+\s+)?plans?\s*:"
# a result with its sides is the end of the test before it, not a word about what follows ("Spurling
# negative bilaterally" over a wrapped "Taut bands with referred pain")
RESULT_WITH_SIDES = (
    r"\b(?:negative|neg|normal|unremarkable)\s+(?:bilaterally|bilat|b/l|throughout|on both sides|"
    r"on the (?:left|right))\b"
)
# Future intent and conditions: care that is only planned is not care received ("referred pain" is a
# finding, not a referral).
PLANNED = (
    r"\b(?:will|would|shall|plan(?:s|ned|ning)?|recommend\w*|schedul\w*|consider(?:s|ed|ing|ation)?|going to|intend\w*|"
    r"^\W*advised|(?:was|were|been|is|are) advised to|(?:have|has|got|made|booked) (?:an? )?(?:appointment|appt) (?:with|for|at)|"
    r"agree(?:able|s|d)? to|"
    # an order in the imperative, a plan's clause or its second half ("; start acetaminophen", "refer
    # to PT and start a trial of naproxen"), not "started"
    r"(?:^\W*|\band\s+)(?:start|begin|initiate)|"
    r"to (?:start|begin|initiate|try|undergo|proceed|obtain|get)|(?:is|are|wants?|wish\w*|like|needs?) to have|may (?:need|require|benefit|consider|try)|"
    r"might|if|should|order\w*|request\w*|refer(?:s|ring)?|referred (?:(?:him|her|them|the patient|pt) )?(?:to|for|back)|referral|candidate for|"
    r"option\w*|discuss\w*|offer(?:ed|ing|s)?|"
    r"prescription for|rx for|pending|awaiting|future|next)\b"
)
# a letter looking back at what the reader knows ("as you will recall, she fell") states no intent,
# nor does pain "going to" a part of the body (it radiates there), nor a patient who "refers pain"
# (reports it, in some clinicians' English), nor a place "next" in a row ("jumped from one trampoline
# to the next"), nor a consent's discussion
RECOLLECTION = (
    r"\bas you (?:will |may |might )?(?:recall|know|remember)\b"
    r"|\bfrom one (?:\w+ ){1,2}?to the next\b"
    # a consent told before the procedure it was for ("after discussing risks and benefits, I
    # performed ...")
    r"|\b(?:after|having) discuss\w* (?:the )?(?:risks|benefits|alternatives)\b"
    # a letter's thanks for the referral it answers
    r"|\bthank(?:s| you) for (?:your |the )?(?:referring|referral|asking|allowing|requesting)\b"
    # the reason a referral or a visit was made states the problem, not a plan ("Reason for referral:
    # cervicalgia x 4 months")
    r"|\breason for (?:the )?(?:referral|consult\w*|visit)\b"
    # a consent's advice ("was advised of the risks")
    r"|\badvised of (?:the )?(?:risks|benefits|alternatives)\b"
    r"|\b(?:patient|pt|he|she) refers (?:to )?(?:pain|having|ha[sd]) "
    r"|\bgoing (?:down |in)?to (?:the |his |her |both )?(?:(?:[lr]|left|right|bilateral) )?"
    r"(?:buttocks?|legs?|thighs?|calf|calves|knees?|feet|foot|toes?|arms?|hands?|fingers?|shoulders?|"
    r"neck|hips?|groin|chest|back|scapula)\b"
)
# an order, advice or referral after the care it names ("physical therapy referral given")
PLANNED_AFTER = (
    r"(?:recommended|ordered|advised|suggested|scheduled|planned|requested|pending|referrals?|"
    r"sent (?:to (?:the )?pharmacy|in)|(?:handouts?|instructions|sheets?) (?:given|provided) today)\b"
)
_DONE = (
    r"completed|tried|failed|underwent|received|attended|s/p|status post|has had|had been|"
    r"(?:has|have) been (?:doing|attending|going|in|on|using|taking)"
)
# Care done before the visit, whose span is its own even in a plan ("failed 8 weeks of PT")
PAST_CARE = rf"\b(?:{_DONE}|have had)\b"
# Care going on is care received ("continue physical therapy", "cont HEP", "currently in PT").
ONGOING = (
    rf"\b(?:continu\w*|cont|cont'd|c/w|currently|ongoing|still|{_DONE}|"
    r"(?:is|are|also|now) (?:doing|attending|receiving|in|on|using|taking))\b"
)
_RELATIVES = r"mother|father|mom|dad|sister|brother|sibling|aunt|uncle|grand(?:mother|father|parent)s?|cousin|daughter|son"
FAMILY = rf"\b(?:{_RELATIVES}|family history|fhx)\b"
# a relative named as the patient's ("his father"); a parent's or a child's account names the patient
# as their own ("Dad fell this morning", "my son got kicked")
PATIENTS_RELATIVE = (
    rf"\b(?:his|her|their|patient's|pt's)\s+(?:{_RELATIVES})\b"
    # a family history's line ("Father died in motor vehicle accident at age 40")
    rf"|\b(?:{_RELATIVES})\s+(?:died|deceased|passed away|was killed|killed)\b"
)
# A relative as company or informant is not the experiencer: "moving a couch with his brother",
# "brought in by her daughter", "helping his son move", "mother states", "at her cousin's house".
COMPANY = (
    rf"\b(?:with|by|per|from|and|told|accompanied by|called|help\w*|visiting|according to)\s+(?:his|her|their|my|the|the patient's|pt's)?\s*(?:{_RELATIVES})\b"
    rf"|\b(?:{_RELATIVES})\s+(?:states|reports|says|notes|relates|found|brought|called|witnessed|"
    r"gives?|gave|giving|helps?|helped)\b"
    # a relative doing something in the story ("Father was swinging her by the hands"), or the one
    # who came along, left at a clause's start when "presents with" began the clause ("his mother
    # for right ankle pain")
    rf"|\b(?:{_RELATIVES})\s+(?:was|were|had been)\s+[a-z]+ing\b"
    rf"|^(?:his|her|their)\s+(?:{_RELATIVES})\s+(?:for|to|because|after|and)\b"
    # a relative who did something to the patient ("his daughter scratched his eye")
    rf"|\b(?:{_RELATIVES})\s+(?:scratched|kicked|bit|pushed|hit|punched|struck|shoved|pulled|dragged|"
    r"dropped|elbowed|tackled|knocked)\s+(?:him|her|them|his|their|the patient|pt)\b"
    # a relative's place or thing ("at her cousin's house") is where, not who
    rf"|\b(?:{_RELATIVES})'s\s+(?:house|home|place|apartment|car|truck|farm|yard|pool|party|wedding|birthday)\b"
)


# Words that end a negation's scope inside a clause, as ConText's terminators: what follows is a new
# event or its circumstance ("no loss of consciousness when she fell", "denies numbness after the
# injection, which helped"). A scope does not cross the mark put in their place.
TERMINATORS = (
    r"\s+(?:after|when|while|which|who|following|because|due to|secondary to)\s+"
    # a new predicate after a comma ("no specific injury, has been on light duty")
    r"|,\s+(?:has|have|had)\s+been\s+"
    # a new subject after "and" ("without his walker and he fell backward")
    r"|\s+and\s+(?:he|she|they|i|we)\s+"
)
# a denial opened inside parentheses ends with them ("activity modification (no lifting, limited
# stairs) and takes ibuprofen prn")
PARENTHETICAL_DENIAL = r"(\((?:no|not|without|w/o|denies)\b[^()]*\))"
_END = "\x1f"
_GAP = rf"[^0-9a-z_{_END}]"
# a result after a test names it before the next comma: "twitch, aspirate neg" negates no twitch
_RESULT_GAP = "[^0-9a-z_,]"


def _before(trigger: str, pattern: str, words: int) -> str:
    return rf"(?:{trigger})(?:{_GAP}+{WORD}+){{0,{words}}}?{_GAP}+(?:{pattern})"


# an answer "No" to whether something helped or changed ("Did physical therapy help? No", "Radiating
# pain improved: No") says it goes on, not that it is absent
_NO_EFFECT = (
    r"\b(help(?:ed|s)?|better|improv\w*|reliev\w*|relief|worse\w*|resolv\w*|chang\w*|effective|"
    r"benefit\w*|work(?:ed|s|ing)?)\s*:\s*no\s*$"
)


# not recalling any event is a denial of it ("does not recall a specific fall or twist"), where not
# recalling alone is a memory (a pseudo-trigger)
_NO_RECALL_OF = (
    r"\b(?:does|do|did)\s*(?:not|n'?t)\s+(?:recall|remember)\s+(?:any|an?)\s+(?:specific\s+|particular\s+)?"
    r"(falls?|injury|trauma|twist\w*|event|incident)\b"
)


def neutral(clause: pl.Expr) -> pl.Expr:
    """The clause with its pseudo-triggers blanked and its terminators marked, as negation reads it."""
    return (
        clause.str.replace_all(_NO_EFFECT, "${1}")
        .str.replace_all(_NO_RECALL_OF, "denies any ${1}")
        .str.replace_all(PSEUDO_TRIGGERS, BLANK)
        .str.replace_all(TERMINATORS, f" {_END} ")
        .str.replace_all(PARENTHETICAL_DENIAL, f"${{1}} {_END}")
    )


def negated(clause: pl.Expr, pattern: str, results: bool = True) -> pl.Expr:
    """A negation before the mention (twenty words: review-of-systems lists run long), and for a
    finding (`results`) a negative result just before it ("negative Spurling's") or after it ("SLR
    neg", "Spurling's (-)", "straight leg raise is normal"); an event is not "normal" ("fell; x-ray
    normal" still says how), and is negated only when no mention of it is left outside the denial."""
    if not results:
        # an event denied in a list ("no falls, slips or trips") is denied; one mention left over
        # ("tripped and fell, did not hit his head") is affirmed
        listed = rf"(?:{pattern})(?:(?:\s*[,/]\s*|\s+(?:or|and|nor)\s+|\s*,\s*(?:or|and|nor)\s+)(?:{WORD}+\s+){{0,2}}?(?:{pattern}))*"
        span = _before(PRE_NEGATION, listed, 20)
        return clause.str.contains(span) & ~clause.str.replace_all(span, BLANK).str.contains(
            pattern
        )
    before = clause.str.contains(_before(PRE_NEGATION, pattern, 20))
    after = rf"(?:{pattern}){WORD}*(?:{_RESULT_GAP}+{WORD}+){{0,3}}?{_RESULT_GAP}*{POST_NEGATION}"
    return (
        before
        | clause.str.replace_all(RESULT_WITH_SIDES, BLANK).str.contains(
            _before(RESULT_BEFORE, pattern, 2)
        )
        | clause.str.contains(after)
    )


# a drug taken on a schedule is a regimen ("scheduled acetaminophen"), not a plan: the drug is kept,
# as a plan before it may still plan it ("recommend a trial of scheduled acetaminophen")
REGIMEN = (
    r"\bscheduled ((?:acetaminophen|tylenol|apap|ibuprofen|motrin|naproxen|nsaids?|analgesics?|"
    r"pain (?:meds|medications?)|tramadol|oxycodone|opioids?)\b)"
)


def planned(clause: pl.Expr, pattern: str, words: int = 8) -> pl.Expr:
    """Future intent or a condition up to `words` words before the mention ("will start PT"), or an
    order or advice right after it ("HEP recommended", "trial of PT ordered", "TFESI under
    fluoroscopy to be scheduled"), unless the care is said to be going on; a letter's "as you will
    recall" looks back, and pain "going to L buttock" radiates. An intent does not reach past a
    story's "when" or "while": "he went to get a pallet jack when he slipped" plans no slip."""
    clause = clause.str.replace_all(REGIMEN, "${1}").str.replace_all(RECOLLECTION, BLANK)
    after = (
        rf"(?:{pattern}){WORD}*{_GAP}+(?:(?:is|was|were|are|been|being|to be)\s+)?{PLANNED_AFTER}"
    )
    scoped = clause.str.replace_all(r"\s+(?:when|while)\s+", f" {_END} ")
    return (
        scoped.str.contains(_before(PLANNED, pattern, words)) | clause.str.contains(after)
    ) & ~clause.str.contains(_before(ONGOING, pattern, 6))


def family(clause: pl.Expr, pattern: str, possessive: bool = False) -> pl.Expr:
    """A relative (`possessive`: one named as the patient's) up to eight words before the mention,
    not as company, informant or the one who acted on the patient."""
    relative = PATIENTS_RELATIVE if possessive else FAMILY
    return clause.str.replace_all(COMPANY, BLANK).str.contains(_before(relative, pattern, 8))
