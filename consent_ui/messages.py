"""What the customer is told, per stable reason code (biometrics, one-time code, login steps)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

#: In the order they are explained: when a capture fails several checks, the
#: customer hears about the most telling one (a photo held up is a photo,
#: whether or not its tilts also missed the asked poses).
FACE_REASONS = {
    "flat_surface": _l(
        "This looks like a photo or a screen, not a live face. Please use your own face in front of the camera."
    ),
    "several_faces": _l(
        "More than one face was in the picture. Make sure only you are in front of the camera."
    ),
    "different_people": _l("The face changed during the check. Only you should be in front of the camera."),
    "replayed_frames": _l("These pictures were already used. Please take a new check."),
    "frames_identical": _l(
        "The camera sent the same picture over and over. Please try again with a live camera."
    ),
    "challenge_expired": _l("The time for this check ran out. Please try again."),
    "too_few_frames": _l("We did not receive enough pictures from the camera. Please try again."),
    "no_face": _l("We could not see your face. Face the camera in good light and try again."),
    "face_too_small": _l("Your face was too far away. Come closer so that it fills the outline."),
    "too_blurry": _l("The pictures were blurry. Hold still in good light and try again."),
    "pose_not_followed": _l(
        "We could not see the head turns we asked for. Follow the prompts one at a time."
    ),
    "poses_out_of_order": _l(
        "The head turns were not in the order we asked for. Follow the prompts one at a time."
    ),
    "unreadable_capture": _l("We could not read the pictures or the video. Please try again."),
    "face_does_not_match": _l("Your face does not match the photo on record for this person."),
    "liveness_not_shown": _l("We could not confirm a live face. Please try again."),
    "too_many_failures": _l("Too many failed attempts. Please wait before trying again."),
    "face_challenge_unknown": _l("This check is no longer valid. Please start the face check again."),
    "login_changed": _l("This sign-in was changed in another window. Please continue from the current step."),
    "step_out_of_order": _l("This step is not due yet. Please continue from the current step."),
}

IDENTIFY_REASONS = {
    "invalid_identifier": _l(
        "Enter your IIN (12 digits) or your mobile number, for example +7 701 234 56 78."
    ),
    "not_on_record": _l("We could not find this IIN or phone number in the reference registry."),
}

OTP_REASONS = {
    "otp_wrong": _l("The code is not correct."),
    "otp_expired": _l("The code has expired. Ask for a new one."),
    "otp_too_many_attempts": _l("Too many wrong codes. Ask for a new one."),
    "otp_unknown": _l("This code is no longer valid. Ask for a new one."),
    "otp_resend_too_soon": _l("A code was sent a moment ago. Please wait before asking again."),
    "otp_phone_rate_limited": _l("Too many codes were sent to this phone. Please try again later."),
    "otp_not_delivered": _l("The SMS could not be sent. Please try again in a moment."),
}


def face_message(reasons: list[str]) -> str:
    """The message for the most telling of the reasons."""
    for reason, message in FACE_REASONS.items():
        if reason in reasons:
            return str(message)
    return str(FACE_REASONS["liveness_not_shown"])


#: Each permission of a consent in plain words (idp.consents.service.PERMISSIONS).
PERMISSION_WORDS = {
    "ReadAccountsBasic": _l("See which accounts you have: their type, currency and masked number"),
    "ReadAccountsDetail": _l("See your accounts' full details: full number (IBAN) and the owner's name"),
    "ReadBalances": _l("See how much money is on your accounts"),
    "ReadTransactionsBasic": _l("See your payments and transfers: date, amount and status"),
    "ReadTransactionsDetail": _l("See the details of your payments: who paid whom and for what"),
    "ReadTransactionsCredits": _l("Of the payments, only money coming in"),
    "ReadTransactionsDebits": _l("Of the payments, only money going out"),
}

#: A consent's status as the customer reads it.
STATUS_WORDS = {
    "AwaitingAuthorisation": _l("Waiting for your decision"),
    "Authorised": _l("In force"),
    "Rejected": _l("Rejected"),
    "Revoked": _l("Withdrawn"),
    "Expired": _l("Expired"),
}

#: Why a consent's status changed (idp.consents.lifecycle reason codes).
CHANGE_WORDS = {
    "API_USER_CREATED": _l("The app asked for the consent"),
    "CUSTOMER_AUTHORISED": _l("You gave the consent"),
    "CUSTOMER_REJECTED": _l("You rejected the consent"),
    "CUSTOMER_REVOKED": _l("You withdrew the consent"),
    "API_USER_ENDED": _l("The app ended the consent"),
    "OPERATOR_REVOKED": _l("The platform operator withdrew the consent"),
    "PARTICIPANT_BLOCKED": _l("The app's company was blocked on the platform"),
    "NOT_AUTHORISED_IN_TIME": _l("Not decided within an hour"),
    "EXPIRED": _l("The consent reached its end date"),
}
