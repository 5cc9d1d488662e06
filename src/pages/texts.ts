/**
 * What the pages say, per language: one title and body per outcome code
 * (the compiler checks that none is missing), the next-step labels and the
 * request-id label. English and German; the first language is the default.
 */
import type { OutcomeCode } from '../outcomes.js'

interface PageText {
  readonly title: string
  readonly body: string
}

/** Languages the pages are written in; the first is the default. */
export const LANGUAGES = ['en', 'de'] as const
export type Language = (typeof LANGUAGES)[number]
export const DEFAULT_LANGUAGE: Language = 'en'

/** Everything a page shows in one language. */
export interface PageTexts {
  readonly pages: Readonly<Record<OutcomeCode, PageText>>
  /** Label of the page's next-step button, where it is not the default. */
  readonly next: Readonly<Partial<Record<OutcomeCode, string>>>
  /** The default next-step label. */
  readonly tryAgain: string
  /** Label in front of the request id. */
  readonly requestId: string
}

const EN: PageTexts = {
  pages: {
    ACCESS_DENIED: {
      title: 'Access denied',
      body: 'You are signed in, but your account is not allowed to use this video conference service. If you think this is wrong, ask your administrator for access.',
    },
    LOGIN_STATE_INVALID: {
      title: 'Sign-in expired',
      body: 'This sign-in link has expired, was already used, or was opened in a different browser. Please start again.',
    },
    LOGIN_FAILED: {
      title: 'Sign-in failed',
      body: 'We could not complete your sign-in. Please try again.',
    },
    IDP_REFUSED: {
      title: 'Sign-in cancelled',
      body: 'The sign-in was cancelled or refused at your identity provider.',
    },
    IDP_ERROR: {
      title: 'The identity provider reported an error',
      body: 'Your identity provider could not complete the sign-in. Please try again in a moment; if it keeps happening, tell your administrator.',
    },
    IDP_MISCONFIGURED: {
      title: 'Sign-in is not set up correctly',
      body: 'The identity provider and this service disagree about how sign-ins are secured. Please tell your administrator and quote the request id below.',
    },
    IDP_UNAVAILABLE: {
      title: 'Sign-in is unavailable',
      body: 'The identity provider cannot be reached right now. Please try again in a moment.',
    },
    IDP_TIMEOUT: {
      title: 'Sign-in is taking too long',
      body: 'The identity provider did not answer in time. Please try again in a moment.',
    },
    UPSTREAM_UNAVAILABLE: {
      title: 'The meeting service is unavailable',
      body: 'The video conference service is not answering right now. Please try again in a moment.',
    },
    LOGOUT_REFUSED: {
      title: 'Sign-out refused',
      body: 'This sign-out request did not come from this site, so it was ignored. Use the sign-out button on this site instead.',
    },
    BAD_REQUEST: {
      title: 'Bad request',
      body: 'This address is not a valid meeting link.',
    },
    URL_TOO_LONG: {
      title: 'Link too long',
      body: 'This meeting link is too long to sign in with. Please use a shorter link.',
    },
    NOT_FOUND: {
      title: 'Not found',
      body: 'There is nothing at this address.',
    },
    METHOD_NOT_ALLOWED: {
      title: 'Not allowed',
      body: 'This address does not accept that kind of request.',
    },
    INTERNAL: {
      title: 'Something went wrong',
      body: 'An unexpected error occurred. Please try again; if it keeps happening, tell your administrator.',
    },
    SIGNED_OUT: {
      title: 'Signed out',
      body: 'You have been signed out of the video conference service.',
    },
    LOGOUT_CONFIRM: {
      title: 'Sign out?',
      body: 'Sign out of the video conference service on this browser?',
    },
    OPEN_APP: {
      title: 'Continue in the Jitsi Meet app',
      body: 'You are signed in. Open the meeting in the Jitsi Meet desktop app to continue.',
    },
  },
  next: {
    ACCESS_DENIED: 'Sign in with another account',
    SIGNED_OUT: 'Sign in again',
    LOGOUT_CONFIRM: 'Sign out',
    OPEN_APP: 'Open the Jitsi Meet app',
  },
  tryAgain: 'Try again',
  requestId: 'Request id',
}

const DE: PageTexts = {
  pages: {
    ACCESS_DENIED: {
      title: 'Zugriff verweigert',
      body: 'Sie sind angemeldet, aber Ihr Konto darf diesen Videokonferenzdienst nicht nutzen. Wenn Sie das für einen Fehler halten, bitten Sie Ihren IT-Support um Zugang.',
    },
    LOGIN_STATE_INVALID: {
      title: 'Anmeldung abgelaufen',
      body: 'Dieser Anmeldelink ist abgelaufen, wurde schon benutzt oder in einem anderen Browser geöffnet. Bitte beginnen Sie von vorn.',
    },
    LOGIN_FAILED: {
      title: 'Anmeldung fehlgeschlagen',
      body: 'Ihre Anmeldung konnte nicht abgeschlossen werden. Bitte versuchen Sie es noch einmal.',
    },
    IDP_REFUSED: {
      title: 'Anmeldung abgebrochen',
      body: 'Die Anmeldung wurde bei Ihrem Identitätsanbieter abgebrochen oder abgelehnt.',
    },
    IDP_ERROR: {
      title: 'Der Identitätsanbieter meldet einen Fehler',
      body: 'Ihr Identitätsanbieter konnte die Anmeldung nicht abschließen. Bitte versuchen Sie es gleich noch einmal; wenn es wieder passiert, wenden Sie sich an Ihren IT-Support.',
    },
    IDP_MISCONFIGURED: {
      title: 'Die Anmeldung ist nicht richtig eingerichtet',
      body: 'Der Identitätsanbieter und dieser Dienst sind sich nicht einig, wie Anmeldungen gesichert werden. Bitte wenden Sie sich an Ihren IT-Support und nennen Sie die Anfrage-ID unten.',
    },
    IDP_UNAVAILABLE: {
      title: 'Anmeldung nicht möglich',
      body: 'Der Identitätsanbieter ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.',
    },
    IDP_TIMEOUT: {
      title: 'Die Anmeldung dauert zu lange',
      body: 'Der Identitätsanbieter hat nicht rechtzeitig geantwortet. Bitte versuchen Sie es gleich noch einmal.',
    },
    UPSTREAM_UNAVAILABLE: {
      title: 'Der Konferenzdienst ist nicht erreichbar',
      body: 'Der Videokonferenzdienst antwortet gerade nicht. Bitte versuchen Sie es gleich noch einmal.',
    },
    LOGOUT_REFUSED: {
      title: 'Abmeldung abgelehnt',
      body: 'Diese Abmeldeanfrage kam nicht von dieser Website und wurde deshalb ignoriert. Melden Sie sich bitte über die Abmelde-Schaltfläche dieser Website ab.',
    },
    BAD_REQUEST: {
      title: 'Ungültige Anfrage',
      body: 'Diese Adresse ist kein gültiger Link zu einer Besprechung.',
    },
    URL_TOO_LONG: {
      title: 'Link zu lang',
      body: 'Dieser Besprechungslink ist zu lang für die Anmeldung. Bitte verwenden Sie einen kürzeren Link.',
    },
    NOT_FOUND: {
      title: 'Nicht gefunden',
      body: 'Unter dieser Adresse wurde nichts gefunden.',
    },
    METHOD_NOT_ALLOWED: {
      title: 'Nicht erlaubt',
      body: 'Diese Art von Anfrage ist unter dieser Adresse nicht erlaubt.',
    },
    INTERNAL: {
      title: 'Etwas ist schiefgegangen',
      body: 'Ein unerwarteter Fehler ist aufgetreten. Bitte versuchen Sie es noch einmal; wenn er wieder auftritt, wenden Sie sich an Ihren IT-Support.',
    },
    SIGNED_OUT: {
      title: 'Abgemeldet',
      body: 'Sie wurden vom Videokonferenzdienst abgemeldet.',
    },
    LOGOUT_CONFIRM: {
      title: 'Abmelden?',
      body: 'Möchten Sie sich in diesem Browser vom Videokonferenzdienst abmelden?',
    },
    OPEN_APP: {
      title: 'Weiter in der Jitsi-Meet-App',
      body: 'Sie sind angemeldet. Öffnen Sie die Besprechung in der Jitsi-Meet-Desktop-App, um fortzufahren.',
    },
  },
  next: {
    ACCESS_DENIED: 'Mit einem anderen Konto anmelden',
    SIGNED_OUT: 'Erneut anmelden',
    LOGOUT_CONFIRM: 'Jetzt abmelden',
    OPEN_APP: 'Jitsi-Meet-App öffnen',
  },
  tryAgain: 'Erneut versuchen',
  requestId: 'Anfrage-ID',
}

/** The page texts per language. */
export const TEXTS: Readonly<Record<Language, PageTexts>> = Object.freeze({ en: EN, de: DE })
