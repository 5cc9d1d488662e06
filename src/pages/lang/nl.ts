/** Dutch. */
import type { PageTexts } from './types.js'

export const NL: PageTexts = {
  pages: {
    ACCESS_DENIED: {
      title: 'Toegang geweigerd',
      body: 'U bent ingelogd, maar uw account mag deze videoconferentiedienst niet gebruiken. Denkt u dat dit niet klopt? Vraag dan uw beheerder om toegang.',
    },
    LOGIN_STATE_INVALID: {
      title: 'Inlogpoging verlopen',
      body: 'Het inloggen kon in deze browser niet worden afgerond: het duurde te lang, deze inlogpoging was al gebruikt, of deze browser bewaart geen cookies voor deze website. Probeer het opnieuw; als het weer gebeurt, sta dan cookies toe voor deze website.',
    },
    LOGIN_FAILED: {
      title: 'Inloggen mislukt',
      body: 'We konden het inloggen niet afronden. Probeer het opnieuw.',
    },
    IDP_REFUSED: {
      title: 'Inloggen geannuleerd',
      body: 'Het inloggen is bij uw identiteitsprovider geannuleerd of geweigerd.',
    },
    IDP_ERROR: {
      title: 'De identiteitsprovider meldt een fout',
      body: 'Uw identiteitsprovider kon het inloggen niet afronden. Probeer het zo opnieuw; blijft het gebeuren, laat het dan uw beheerder weten.',
    },
    IDP_MISCONFIGURED: {
      title: 'Inloggen is niet goed ingesteld',
      body: 'De identiteitsprovider en deze dienst zijn het niet eens over hoe het inloggen wordt beveiligd. Laat het uw beheerder weten en vermeld daarbij het aanvraag-id hieronder.',
    },
    IDP_UNAVAILABLE: {
      title: 'Inloggen is niet mogelijk',
      body: 'De identiteitsprovider is op dit moment niet bereikbaar. Probeer het zo opnieuw.',
    },
    IDP_TIMEOUT: {
      title: 'Inloggen duurt te lang',
      body: 'De identiteitsprovider heeft niet op tijd gereageerd. Probeer het zo opnieuw.',
    },
    UPSTREAM_UNAVAILABLE: {
      title: 'De vergaderdienst is niet bereikbaar',
      body: 'De videoconferentiedienst reageert op dit moment niet. Probeer het zo opnieuw.',
    },
    LOGOUT_REFUSED: {
      title: 'Uitloggen geweigerd',
      body: 'Dit verzoek om uit te loggen kwam niet van deze website en is daarom genegeerd. Gebruik in plaats daarvan de uitlogknop op deze website.',
    },
    BAD_REQUEST: {
      title: 'Ongeldig verzoek',
      body: 'Dit adres is geen geldige vergaderlink.',
    },
    URL_TOO_LONG: {
      title: 'Link te lang',
      body: 'Deze vergaderlink is te lang om mee in te loggen. Gebruik een kortere link.',
    },
    FORBIDDEN: {
      title: 'Verboden',
      body: 'Dit adres antwoordt alleen de eigen proxy van deze site.',
    },
    NOT_FOUND: {
      title: 'Niet gevonden',
      body: 'Op dit adres staat niets.',
    },
    METHOD_NOT_ALLOWED: {
      title: 'Niet toegestaan',
      body: 'Dit adres accepteert dit soort verzoeken niet.',
    },
    INTERNAL: {
      title: 'Er is iets misgegaan',
      body: 'Er is een onverwachte fout opgetreden. Probeer het opnieuw; blijft het gebeuren, laat het dan uw beheerder weten.',
    },
    SIGNED_OUT: {
      title: 'Uitgelogd',
      body: 'U bent uitgelogd bij de videoconferentiedienst.',
    },
    LOGOUT_CONFIRM: {
      title: 'Uitloggen?',
      body: 'Wilt u in deze browser uitloggen bij de videoconferentiedienst? Mogelijk vraagt uw identiteitsprovider u nog een keer om dit te bevestigen.',
    },
    OPEN_APP: {
      title: 'Verder in de Jitsi Meet-app',
      body: 'U bent ingelogd. Open de vergadering in de Jitsi Meet-desktopapp om verder te gaan.',
    },
  },
  next: {
    ACCESS_DENIED: 'Inloggen met een ander account',
    SIGNED_OUT: 'Opnieuw inloggen',
    LOGOUT_CONFIRM: 'Uitloggen',
    OPEN_APP: 'Jitsi Meet-app openen',
  },
  tryAgain: 'Opnieuw proberen',
  signedInAs: 'Ingelogd als {account}.',
  requestId: 'Aanvraag-id',
}
