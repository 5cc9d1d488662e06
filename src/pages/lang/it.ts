/** Italian. */
import type { PageTexts } from './types.js'

export const IT: PageTexts = {
  pages: {
    ACCESS_DENIED: {
      title: 'Accesso negato',
      body: 'Ha effettuato l’accesso, ma il suo account non è autorizzato a usare questo servizio di videoconferenza. Se ritiene che si tratti di un errore, chieda l’autorizzazione al suo amministratore.',
    },
    LOGIN_STATE_INVALID: {
      title: 'Accesso scaduto',
      body: 'Non è stato possibile completare l’accesso in questo browser: ha richiesto troppo tempo, era già stato usato, oppure questo browser non conserva i cookie per questo sito. Riprovi; se succede di nuovo, consenta i cookie per questo sito.',
    },
    LOGIN_FAILED: {
      title: 'Accesso non riuscito',
      body: 'Non è stato possibile completare l’accesso. Riprovi.',
    },
    IDP_REFUSED: {
      title: 'Accesso annullato',
      body: 'L’accesso è stato annullato o rifiutato presso il suo provider di identità.',
    },
    IDP_ERROR: {
      title: 'Il provider di identità ha segnalato un errore',
      body: 'Il suo provider di identità non è riuscito a completare l’accesso. Riprovi tra qualche istante; se il problema persiste, avvisi il suo amministratore.',
    },
    IDP_MISCONFIGURED: {
      title: 'L’accesso non è configurato correttamente',
      body: 'Il provider di identità e questo servizio non concordano su come proteggere gli accessi. Avvisi il suo amministratore e indichi l’ID richiesta riportato qui sotto.',
    },
    IDP_UNAVAILABLE: {
      title: 'Accesso non disponibile',
      body: 'Al momento il provider di identità non è raggiungibile. Riprovi tra qualche istante.',
    },
    IDP_TIMEOUT: {
      title: 'L’accesso sta richiedendo troppo tempo',
      body: 'Il provider di identità non ha risposto in tempo. Riprovi tra qualche istante.',
    },
    UPSTREAM_UNAVAILABLE: {
      title: 'Il servizio di riunioni non è disponibile',
      body: 'Al momento il servizio di videoconferenza non risponde. Riprovi tra qualche istante.',
    },
    LOGOUT_REFUSED: {
      title: 'Disconnessione rifiutata',
      body: 'Questa richiesta di disconnessione non proveniva da questo sito, quindi è stata ignorata. Usi invece il pulsante di disconnessione di questo sito.',
    },
    BAD_REQUEST: {
      title: 'Richiesta non valida',
      body: 'Questo indirizzo non è un link valido a una riunione.',
    },
    URL_TOO_LONG: {
      title: 'Link troppo lungo',
      body: 'Questo link alla riunione è troppo lungo per effettuare l’accesso. Usi un link più breve.',
    },
    FORBIDDEN: {
      title: 'Vietato',
      body: 'Questo indirizzo risponde solo al proxy di questo sito.',
    },
    NOT_FOUND: {
      title: 'Non trovato',
      body: 'Non c’è nulla a questo indirizzo.',
    },
    METHOD_NOT_ALLOWED: {
      title: 'Non consentito',
      body: 'Questo indirizzo non accetta questo tipo di richiesta.',
    },
    INTERNAL: {
      title: 'Qualcosa è andato storto',
      body: 'Si è verificato un errore imprevisto. Riprovi; se il problema persiste, avvisi il suo amministratore.',
    },
    SIGNED_OUT: {
      title: 'Disconnessione effettuata',
      body: 'Ha effettuato la disconnessione dal servizio di videoconferenza.',
    },
    LOGOUT_CONFIRM: {
      title: 'Disconnettersi?',
      body: 'Vuole disconnettersi dal servizio di videoconferenza in questo browser? Il suo provider di identità potrebbe chiederle di confermare ancora una volta.',
    },
    OPEN_APP: {
      title: 'Continuare nell’app Jitsi Meet',
      body: 'Ha effettuato l’accesso. Per continuare, apra la riunione nell’app desktop di Jitsi Meet.',
    },
  },
  next: {
    ACCESS_DENIED: 'Accedere con un altro account',
    SIGNED_OUT: 'Accedere di nuovo',
    LOGOUT_CONFIRM: 'Disconnettersi',
    OPEN_APP: 'Aprire l’app Jitsi Meet',
  },
  tryAgain: 'Riprovare',
  signedInAs: 'Accesso effettuato come {account}.',
  requestId: 'ID richiesta',
}
