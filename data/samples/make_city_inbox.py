"""Write the sample mailbox ``city_inbox.mbox`` and print the README's label table.

The mbox is committed; this script documents how it was made and rebuilds it
byte for byte:  python data/samples/make_city_inbox.py data/samples/city_inbox.mbox
All people, addresses and events are invented. Messages with labels are the
deliberate policy violations listed in README.md.
"""

import email.policy
import email.utils
import re
import sys
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage

POL = email.policy.default.clone(linesep="\n", max_line_length=78)
EST = timezone(timedelta(hours=-5))
D = "cityofexample.gov"
T0 = datetime(2025, 3, 3, 8, 5, tzinfo=EST)
msgs = []  # message specs, in the order written below


def addr(name, local, domain=D):
    return email.utils.formataddr((name, f"{local}@{domain}"))


P = {  # staff
    "maria": addr("Maria Gonzalez", "maria.gonzalez"),
    "dave": addr("Dave Kowalski", "dave.kowalski"),
    "tom": addr("Tom Becker", "tom.becker"),
    "priya": addr("Priya Natarajan", "priya.natarajan"),
    "aisha": addr("Aisha Rahman", "aisha.rahman"),
    "linda": addr("Linda Chen", "linda.chen"),
    "sarah": addr("Sarah Mitchell", "sarah.mitchell"),
    "omar": addr("Omar Haddad", "omar.haddad"),
    "kevin": addr("Kevin O'Brien", "kevin.obrien"),
    "greg": addr("Greg Lawson", "greg.lawson"),
    "brian": addr("Brian Foster", "brian.foster"),
    "jen": addr("Jennifer Walsh", "jennifer.walsh"),
    "rick": addr("Rick Dunn", "rick.dunn"),
    "carla": addr("Carla Ruiz", "carla.ruiz"),
    "helpdesk": addr("City IT Service Desk", "it-helpdesk"),
    "hr": addr("Human Resources", "hr"),
    "allstaff": addr("All Staff", "all-staff"),
    "pw": addr("Public Works Team", "publicworks-team"),
    "311": addr("City 311", "311"),
}
n = 0


def mk(key, labels, frm, to, subject, body=None, **kw):
    spec = dict(key=key, labels=labels, frm=frm, to=to, subject=subject, body=body, attach=[], **kw)
    msgs.append(spec)
    return spec


def build(spec, when, msgid, whens):
    m = EmailMessage(policy=POL)
    m["From"] = spec["frm"]
    m["To"] = spec["to"]
    if spec.get("cc"):
        m["Cc"] = spec["cc"]
    m["Subject"] = spec["subject"]
    m["Date"] = email.utils.format_datetime(when)
    m["Message-ID"] = msgid
    extra = dict(spec.get("extra") or {})
    for k, v in extra.items():
        m[k] = v.format(**whens) if isinstance(v, str) else v
    body, html = spec["body"], spec.get("html")
    if body is not None:
        body = body.replace("{AGE_WHEN}", whens["AGE_WHEN"]).replace("{PRAYER_WHEN}", whens["PRAYER_WHEN"])
    if html is not None and body is None:
        m.set_content(html, subtype="html")
    else:
        kw = {"charset": spec["charset"], "cte": "8bit"} if spec.get("charset") else {}
        m.set_content(body, **kw)
        if spec.get("alt_html"):
            m.add_alternative(spec["alt_html"], subtype="html")
    for args, kwargs in spec["attach"]:
        m.add_attachment(*args, **kwargs)
    # Fixed boundaries, so that rebuilding gives the same bytes.
    for i, part in enumerate(m.walk()):
        if part.is_multipart():
            part.set_boundary(f"=_{msgid.strip('<>').split('@')[0]}_{i}")
    return m


# --- ordinary work mail --------------------------------------------------
mk(
    "budget-q3",
    [],
    P["maria"],
    P["greg"],
    "FY2025 Q3 budget variance - Public Works",
    """Hi Greg,

Attached below is the Q3 variance summary for Public Works. Overtime is 14% over
plan because of the February storms; fuel is 6% under. I'd like to move $42,000
from the fleet replacement line to cover overtime so we don't need a mid-year
amendment. Can you confirm by Friday so I can include it in the council packet?

Thanks,
Maria Gonzalez
Budget Analyst, Finance Department
""",
    cc=P["linda"],
)

mk(
    "permit-0187",
    [],
    P["tom"],
    addr("Elena Park", "epark", "harborarchitects.example.com"),
    "Plan review comments - BP-2025-0187 (412 Alder St)",
    """Hello Elena,

Plan review for BP-2025-0187 is complete. Three items need a response before we
can issue the permit:

1. Sheet A2.1: show the accessible route from the parking stall to the entry.
2. Sheet S1.0: provide the stamped calculations for the new header over the garage.
3. The stormwater worksheet is missing the impervious area for the driveway.

Please upload revised sheets through the permit portal. Once they are in, the
re-review usually takes five business days.

Tom Becker
Plans Examiner, Permits and Inspections
""",
)

mk(
    "it-ticket",
    [],
    P["helpdesk"],
    P["aisha"],
    "[Ticket #48213] VPN access restored",
    html="""<html><head><style>body{font-family:Calibri}</style></head><body>
<p>Hello Aisha,</p>
<p>Your ticket <b>#48213</b> (&quot;Cannot connect to VPN from home&quot;) has been <b>resolved</b>.</p>
<p>Your certificate had expired; we issued a new one and pushed it to your laptop. Please restart
and connect with the <i>CityVPN-2025</i> profile.</p>
<ul><li>Ticket: #48213</li><li>Technician: J. Alvarez</li><li>Status: Resolved</li></ul>
<p>If the problem comes back, reply to this e-mail and the ticket will reopen.</p>
<p>City IT Service Desk &ndash; ext. 4357</p>
</body></html>
""",
)

mk(
    "pw-notes",
    [],
    P["dave"],
    P["pw"],
    "Notes: Public Works weekly coordination, March 4",
    """Attendees: Dave, Greg, Rick, Sarah, Carla

- Pothole backlog down to 61 from 140; crews moving to the east side next week.
- Alder St water main: contractor mobilizes March 17; door hangers go out March 10.
- Bridge inspection (Mill Creek) scheduled for March 24, Sarah leads.
- Street sweeping season starts April 1; Carla to update the web schedule.

Next meeting: Tuesday March 11, 9:00, Room 204.
""",
    alt_html="""<html><body><p><b>Attendees:</b> Dave, Greg, Rick, Sarah, Carla</p>
<ul><li>Pothole backlog down to 61 from 140; crews moving to the east side next week.</li>
<li>Alder St water main: contractor mobilizes March 17; door hangers go out March 10.</li>
<li>Bridge inspection (Mill Creek) scheduled for March 24, Sarah leads.</li>
<li>Street sweeping season starts April 1; Carla to update the web schedule.</li></ul>
<p>Next meeting: Tuesday March 11, 9:00, Room 204.</p></body></html>
""",
)

mk(
    "benefits-spouse",
    [],
    P["priya"],
    P["kevin"],
    "RE: Benefits enrollment for my husband",
    """Hi Kevin,

Yes - same-sex spouses are eligible for medical, dental and vision coverage on
exactly the same terms as any other spouse. Since you married on February 22,
you have 30 days from that date to add him, so the deadline is March 24.
Please bring a copy of the marriage certificate to HR or upload it in the
benefits portal; coverage starts on the first of next month.

Congratulations to you both!
Priya

On Mon, Mar 3, 2025 at 2:10 PM Kevin O'Brien <kevin.obrien@cityofexample.gov> wrote:
> Hi Priya,
> I got married last month and would like to add my husband to my health
> plan. Is there a deadline, and what paperwork do you need?
> Thanks, Kevin
""",
)

mk(
    "prayer-room",
    [],
    P["omar"],
    addr("Facilities Desk", "facilities"),
    "Prayer room booking - Fridays 1:00-1:45",
    """Hello Facilities,

Could I book the quiet/prayer room on the 2nd floor every Friday from 1:00 to
1:45 pm for Jumu'ah prayer, starting March 7? There are usually four or five of
us from the Water and Parks departments. We will leave the room as we found it.

Thank you,
Omar Haddad
Water Resources Engineer
""",
)

mk(
    "ada-request",
    [],
    P["carla"],
    P["hr"],
    "Reasonable accommodation request (ADA)",
    """Hello HR,

I would like to request a reasonable accommodation under the ADA. My vision has
declined over the past year (I have a diagnosis of macular degeneration) and I
am having trouble reading standard screens. My optometrist recommends screen
magnification software (ZoomText or similar), a 32-inch monitor and a desk lamp.

I'm happy to fill out the interactive process form and can provide a note from
my doctor. Please let me know the next steps.

Carla Ruiz
Communications Specialist
""",
)

mk(
    "retirement",
    [],
    P["jen"],
    P["allstaff"],
    "Retirement party for Linda Chen - March 28",
    """Hi everyone,

After 35 years with the City, Linda Chen from the Clerk's Office is retiring!
Please join us on Friday, March 28 at 3:00 pm in the Council Chambers lobby for
cake and a few words. Linda has run every election since 1990 and trained half
the people in this building.

A card is going around the Clerk's Office if you'd like to sign it.

Jennifer
""",
)

mk(
    "fwd-contract",
    [],
    P["greg"],
    P["maria"],
    "FW: Fleet telematics contract renewal",
    """Maria - forwarding the vendor's renewal quote. Can you check whether the 4%
increase fits the FY26 request? I'd like to answer them by March 15.

Greg

-----Original Message-----
From: Account Manager <renewals@fleettrack.example.com>
Sent: Monday, March 3, 2025 11:42 AM
To: Greg Lawson <greg.lawson@cityofexample.gov>
Subject: Fleet telematics contract renewal

Dear Mr. Lawson,

Your FleetTrack subscription for 84 vehicles renews on April 30. The renewal
price is $31,920 per year (a 4% increase). Please sign the attached order form
to keep service uninterrupted.

Regards,
FleetTrack Renewals
""",
)

mk(
    "aviso-agua",
    [],
    P["carla"],
    P["311"],
    "Aviso de corte de agua \u2013 traducci\u00f3n",
    """Hola equipo de 311:

Aqu\u00ed est\u00e1 la traducci\u00f3n del aviso para los vecinos de la calle Alder:
\u201cEl mi\u00e9rcoles 19 de marzo se cortar\u00e1 el agua de 8:00 a 14:00 por
reparaciones. \u00bfPreguntas? Llame al 311.\u201d

Por favor, publ\u00edquenlo tambi\u00e9n en la p\u00e1gina de Facebook.

Gracias,
Carla Ru\u00edz
""",
    charset="windows-1252",
    cte="8bit",
)

sp = mk(
    "parks-minutes",
    [],
    P["aisha"],
    P["brian"],
    "Parks Advisory Board minutes (Feb)",
    """Brian,

Minutes from the February Parks Advisory Board meeting are attached for your
review before they go on the website.

Aisha
""",
)
sp["attach"].append(
    (
        (
            """PARKS ADVISORY BOARD - MINUTES - FEBRUARY 20, 2025
Present: 6 of 7 members. Quorum confirmed.
1. Riverside Park playground replacement: board recommends option B (inclusive
   play structure, $410,000).
2. Dog park hours: no change.
3. Volunteer tree planting: April 12, 9:00 am, Elm St entrance.
Adjourned 8:14 pm.
""",
        ),
        dict(subtype="plain", filename="parks_board_minutes_2025-02.txt"),
    )
)

sp = mk(
    "invoice-pdf",
    [],
    P["rick"],
    P["maria"],
    "Invoice 4471 - asphalt patching (approve?)",
    """Maria,

Invoice 4471 from Northside Paving for the February patching work is attached.
The amount matches PO 2025-118 ($18,240). OK to approve for payment?

Rick Dunn
Streets Supervisor
""",
)
sp["attach"].append(
    (
        (b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",),
        dict(maintype="application", subtype="pdf", filename="invoice_4471.pdf"),
    )
)

mk(
    "newsletter",
    [],
    addr("GovTech Digest", "news", "govtechdigest.example.com"),
    P["brian"],
    "GovTech Digest: 5 ways cities are using AI for permitting",
    html="""<html><body>
<h1>GovTech Digest</h1><p>This week: how five mid-sized cities cut permit review times with
automated completeness checks, a guide to cloud budgeting, and upcoming webinars.</p>
<p><a href="https://govtechdigest.example.com/read">Read online</a> |
<a href="https://govtechdigest.example.com/unsubscribe">Unsubscribe</a></p></body></html>
""",
    extra={
        "List-Id": "GovTech Digest <digest.govtechdigest.example.com>",
        "List-Unsubscribe": "<https://govtechdigest.example.com/unsubscribe?u=8812>",
        "Precedence": "bulk",
    },
)

mk(
    "out-of-office",
    [],
    P["sarah"],
    P["dave"],
    "Automatic reply: Mill Creek bridge inspection",
    """I am out of the office until Monday, March 17, with limited access to e-mail.
For urgent engineering matters please contact Rick Dunn at ext. 2231.

Sarah Mitchell, P.E.
""",
    extra={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
)

mk(
    "snow-oncall",
    [],
    P["dave"],
    P["pw"],
    "Storm response on-call schedule this weekend",
    """Team,

The forecast shows 6-10 inches Saturday night. On-call crews:
- Saturday 6 pm - Sunday 6 am: Crew A (Rick lead)
- Sunday 6 am - 6 pm: Crew B (Greg lead)
Priority routes first, then hospital and school access. Log hours in the
storm code 7710 so FEMA reimbursement is easier to document.

Dave
""",
)

mk(
    "council-agenda",
    [],
    P["linda"],
    P["allstaff"],
    "Draft council agenda - March 18 meeting",
    """Draft agenda items for March 18 are due to the Clerk's Office by noon Thursday.
Items already on the draft:
1. Public hearing: Alder St rezoning (ordinance 2025-07)
2. Consent: Northside Paving contract amendment
3. Presentation: FY2026 budget calendar
Staff reports must use the new template on the intranet.

Linda Chen, City Clerk
""",
)

mk(
    "harassment-training",
    [],
    P["hr"],
    P["allstaff"],
    "Reminder: annual harassment-prevention training due March 31",
    """All staff,

The annual harassment-prevention course is due by March 31. It covers the
City's policy against harassment and discrimination based on race, color,
religion, sex, sexual orientation, gender identity, national origin, age,
disability and political affiliation, and how to report concerns.

The course takes about 45 minutes in the Learning Portal. Supervisors have an
extra module on responding to complaints.

Human Resources
""",
)

mk(
    "pothole-complaint",
    [],
    addr("Dana Whitfield", "dana.whitfield", "mailbox.example.net"),
    P["311"],
    "Pothole on Birch Ave keeps coming back",
    """Hello,

The pothole in front of 1180 Birch Ave has been patched three times since
January and it is back again. It is deep enough that cars swerve into the bike
lane. Could someone look at a permanent repair?

Dana Whitfield
""",
)

mk(
    "interpreters",
    [],
    P["aisha"],
    P["jen"],
    "Interpreters for the Riverside community meeting",
    """Jen,

For the Riverside Park meeting on April 2, we expect a lot of families from the
Arabic- and Vietnamese-speaking communities near the park. I've booked one
Arabic and one Vietnamese interpreter through Language Line and asked
Communications to translate the flyer. Could you add headsets to the AV order?

Aisha
""",
)

mk(
    "pride-flag",
    [],
    P["kevin"],
    P["allstaff"],
    "Pride Month flag raising - logistics",
    """Hi all,

The Mayor will raise the Pride flag at City Hall on June 2 at 9:00 am. We need
two volunteers for the sign-in table and someone from Facilities to check the
halyard on the east flagpole. The LGBTQ+ employee resource group will host
coffee afterwards in the atrium. All are welcome.

Kevin O'Brien
Communications
""",
)

mk(
    "voter-drive",
    [],
    P["linda"],
    P["jen"],
    "Voter registration table at the main library",
    """Jen,

As in past years, the Clerk's Office will staff a nonpartisan voter
registration table at the main library on Saturdays in April. We only help
people register and check their registration - no campaign materials, buttons
or candidate information at the table. Could you share the sign-up sheet with
the front-desk staff?

Linda
""",
)

mk(
    "garage-closure",
    [],
    addr("Facilities Desk", "facilities"),
    P["allstaff"],
    "City Hall garage level P2 closed March 12-13",
    """Level P2 of the City Hall garage will be closed Wednesday and Thursday,
March 12-13, for sealing. Please park on P1 or in the Library lot; permits are
valid in both. Vehicles left on P2 will be moved.

Facilities
""",
)

mk(
    "457b-lunch",
    [],
    P["hr"],
    P["allstaff"],
    "Lunch and learn: 457(b) savings and planning for retirement",
    """Thinking about retirement, or just starting your career? Our 457(b) plan
provider will host a lunch-and-learn on March 20 at noon in Room 101. Topics:
catch-up contributions for employees 50 and older, the pension buy-back
option, and budgeting in your first years of work. Lunch is provided; please
RSVP by March 17.
""",
)

mk(
    "gis-request",
    [],
    P["brian"],
    P["tom"],
    "GIS layer for the Alder St rezoning",
    """Tom,

Could you send me the parcel list for the Alder St rezoning area? I'm building
the notification-radius map (300 ft) for the public hearing notice and want to
make sure we use the same parcels as the staff report.

Brian Foster
GIS Analyst
""",
)

# --- clear policy violations ---------------------------------------------
mk(
    "v-age",
    ["age"],
    P["dave"],
    P["tom"],
    "scheduling rollout",
    """Tom,

Honestly Gary is 64 and still can't figure out the new scheduling system.
The old fossil should have retired years ago. Can we just stop inviting the
dinosaurs to the training and save everyone the time?

Dave
""",
)

mk(
    "age-rebuke",
    [],
    P["tom"],
    P["dave"],
    "Re: scheduling rollout",
    """Dave,

That's not OK - please keep comments about colleagues' ages out of work e-mail.
Gary asked for a one-on-one walkthrough; I'll set that up with him this week.

Tom

On {AGE_WHEN} Dave Kowalski <dave.kowalski@cityofexample.gov> wrote:
> Tom,
>
> Honestly Gary is 64 and still can't figure out the new scheduling system.
> The old fossil should have retired years ago. Can we just stop inviting the
> dinosaurs to the training and save everyone the time?
>
> Dave
""",
    extra={"In-Reply-To": "{AGE_ID}"},
)

mk(
    "v-sexual-orientation",
    ["sexual_orientation"],
    P["rick"],
    P["greg"],
    "picnic",
    """Heard Kevin is bringing his "husband" to the department picnic lol.
Better seat them away from the kids, we don't need that gay stuff rubbing off on
anybody. How many gays does it take to plan a picnic? None, they'd be too busy
picking out matching outfits.
""",
)

mk(
    "v-religion",
    ["religion"],
    P["greg"],
    P["rick"],
    "RE: Prayer room booking - Fridays 1:00-1:45",
    """Why are we handing a room to the Muslims so they can roll out their rugs
every week? Half of them are probably radicals anyway. Tell Facilities to keep
it as storage.

-----Original Message-----
From: Omar Haddad <omar.haddad@cityofexample.gov>
Sent: {PRAYER_WHEN}
To: Facilities Desk <facilities@cityofexample.gov>
Subject: Prayer room booking - Fridays 1:00-1:45

Hello Facilities,

Could I book the quiet/prayer room on the 2nd floor every Friday from 1:00 to
1:45 pm for Jumu'ah prayer, starting March 7?
""",
)

mk(
    "v-national-origin",
    ["national_origin"],
    P["brian"],
    P["jen"],
    "front counter complaints",
    """Jen,

If Ramirez can't speak proper English he should go back to his own country.
We're a city permit counter, not a consulate for illegals. Move him to the back
office before more residents complain.
""",
)

mk(
    "v-disability",
    ["disability"],
    P["greg"],
    P["dave"],
    "minutes",
    """Don't give the minutes to Tom, it'll take him all week with that learning
disability of his. Maybe get him a helmet and a short-bus pass while we're at
it lol.
""",
)

mk(
    "v-race",
    ["race"],
    P["rick"],
    P["jen"],
    "open house front desk",
    """Please don't put Darnell on the front desk for the open house. Residents
don't want to be greeted by some ghetto black guy with an attitude. Put one of
the white girls out there instead.
""",
)

mk(
    "v-gender",
    ["gender"],
    P["dave"],
    P["greg"],
    "Mill Creek inspection team",
    html="""<html><body>
<p>Greg,</p>
<p>Let's be real, <b>women can't do engineering</b>. Put Sarah on note-taking and coffee
and let the guys handle the load calculations on the bridge.</p>
<p>Dave</p></body></html>
""",
)

mk(
    "v-political",
    ["political"],
    P["brian"],
    P["kevin"],
    "transit levy vote",
    """Only a brain-dead Republican like Mike would vote against the transit levy.
Those MAGA morons can't read a budget, and he proves it every single day.
""",
)

mk(
    "v-sexual",
    ["sexual"],
    P["rick"],
    P["carla"],
    "your review",
    """Carla,

You looked so hot in that skirt today. Come by my office after hours and I'll
give you a very "private" performance review, if you know what I mean ;)
""",
)

mk(
    "v-solicitation-mlm",
    ["solicitation"],
    P["jen"],
    P["allstaff"],
    "Essential oils - coworker discount!",
    """Hi everyone!

I've started my own business with Zenvia Essential Oils! Coworkers get 20% off
this month, and if you join my team you can earn $500+ a month from home.
Message me for a catalog or come by my desk - I have samples!
""",
    alt_html="""<html><body><p>Hi everyone!</p><p>I've started my own business with <b>Zenvia Essential Oils</b>! Coworkers get 20% off
this month, and if you join my team you can earn $500+ a month from home.</p>
<p>Message me for a catalog or come by my desk - I have samples!</p></body></html>
""",
)

mk(
    "v-solicitation-campaign",
    ["solicitation"],
    P["maria"],
    P["allstaff"],
    "Please support my brother's campaign",
    """Hi all,

My brother is running for State Senate in District 14 and every dollar counts.
Please donate at the link below before the March 31 filing deadline and
forward this to your teams: https://donate.example.org/fosterforsenate

Thank you!!
Maria
""",
)

mk(
    "v-solicitation-faith",
    ["solicitation"],
    P["kevin"],
    P["allstaff"],
    "An invitation that could change your life",
    """Friends,

I'd love for each of you to accept Jesus Christ as your Lord and Savior before
it's too late. Join our lunchtime Bible study in Room 310 every Wednesday and
bring your families to the revival at Grace Fellowship this Sunday. Reply and
I'll add you to the prayer list.
""",
)

# --- order: violations spread through ordinary mail ------------------------
by_key = {sp["key"]: sp for sp in msgs}
ordinary = [sp for sp in msgs if not sp["labels"] and sp["key"] != "age-rebuke"]
violations = [sp for sp in msgs if sp["labels"]]
order = []
while ordinary or violations:
    order += [ordinary.pop(0) for _ in range(2) if ordinary]
    if violations:
        v = violations.pop(0)
        order.append(v)
        if v["key"] == "v-age":
            order += [ordinary.pop(0)] if ordinary else []
            order.append(by_key["age-rebuke"])
assert order.index(by_key["prayer-room"]) < order.index(by_key["v-religion"])
for n, sp in enumerate(order):
    day = n // 4
    when = T0 + timedelta(days=day + 2 * (day // 5), hours=2 * (n % 4), minutes=(n * 7) % 50)
    sp["when"], sp["msgid"] = when, f"<{when:%Y%m%d%H%M}.{4100 + 37 * n}@{D}>"
whens = {
    "AGE_WHEN": f"{by_key['v-age']['when']:%a, %b %-d, %Y at %-I:%M %p}",
    "PRAYER_WHEN": f"{by_key['prayer-room']['when']:%A, %B %-d, %Y %-I:%M %p}",
    "AGE_ID": by_key["v-age"]["msgid"],
}
msgs = [(sp["key"], sp["labels"], build(sp, sp["when"], sp["msgid"], whens)) for sp in order]

# --- write mboxrd ------------------------------------------------------------
FROM_RE = re.compile(rb"^(>*From )", re.M)
out = bytearray()
rows = []
for i, (_key, labels, m) in enumerate(msgs):
    raw = m.as_bytes(policy=POL)
    sender = email.utils.parseaddr(m["From"])[1]
    dt = email.utils.parsedate_to_datetime(m["Date"]).astimezone(UTC)
    out += f"From {sender} {dt.strftime('%a %b %d %H:%M:%S %Y')}\n".encode()
    out += FROM_RE.sub(rb">\1", raw)
    if not raw.endswith(b"\n"):
        out += b"\n"
    out += b"\n"
    rows.append((i, m["Message-ID"], str(m["Subject"]), labels))
with open(sys.argv[1], "wb") as fh:
    fh.write(out)
for i, mid, subj, labels in rows:
    if labels:
        print(f"| {i} | `{mid}` | {subj} | {', '.join(labels)} |")
print(len(msgs), "messages", len(out), "bytes", file=sys.stderr)
