/** German. */
import type { PageTexts } from './types.js'

export const DE: PageTexts = {
  pages: {
    ACCESS_DENIED: {
      title: 'Zugriff verweigert',
      body: 'Sie sind angemeldet, aber Ihr Konto darf diesen Videokonferenzdienst nicht nutzen. Wenn Sie das für einen Fehler halten, bitten Sie Ihren IT-Support um Zugang.',
    },
    LOGIN_STATE_INVALID: {
      title: 'Anmeldung abgelaufen',
      body: 'Die Anmeldung konnte in diesem Browser nicht abgeschlossen werden: Sie hat zu lange gedauert, wurde schon benutzt, oder dieser Browser speichert keine Cookies für diese Website. Bitte versuchen Sie es noch einmal; wenn es wieder passiert, erlauben Sie Cookies für diese Website.',
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
    FORBIDDEN: {
      title: 'Verboten',
      body: 'Diese Adresse antwortet nur dem eigenen Proxy dieser Website.',
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
      body: 'Möchten Sie sich in diesem Browser vom Videokonferenzdienst abmelden? Ihr Identitätsanbieter fragt möglicherweise noch einmal nach.',
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
  signedInAs: 'Angemeldet als {account}.',
  requestId: 'Anfrage-ID',
}
