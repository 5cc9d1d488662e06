/** Polish. */
import type { PageTexts } from './types.js'

export const PL: PageTexts = {
  pages: {
    ACCESS_DENIED: {
      title: 'Odmowa dostępu',
      body: 'Zalogowano, ale użyte konto nie ma uprawnień do korzystania z tej usługi wideokonferencji. Jeśli to pomyłka, prosimy zwrócić się do administratora o przyznanie dostępu.',
    },
    LOGIN_STATE_INVALID: {
      title: 'Logowanie wygasło',
      body: 'Nie udało się dokończyć logowania w tej przeglądarce: trwało zbyt długo, zostało już wykorzystane albo ta przeglądarka nie przechowuje plików cookie dla tej strony. Prosimy spróbować ponownie; jeśli sytuacja się powtórzy, należy zezwolić na pliki cookie dla tej strony.',
    },
    LOGIN_FAILED: {
      title: 'Logowanie nie powiodło się',
      body: 'Nie udało się dokończyć logowania. Prosimy spróbować ponownie.',
    },
    IDP_REFUSED: {
      title: 'Logowanie anulowane',
      body: 'Logowanie zostało anulowane lub odrzucone u dostawcy tożsamości.',
    },
    IDP_ERROR: {
      title: 'Dostawca tożsamości zgłosił błąd',
      body: 'Dostawca tożsamości nie mógł dokończyć logowania. Prosimy spróbować ponownie za chwilę; jeśli problem będzie się powtarzał, należy powiadomić administratora.',
    },
    IDP_MISCONFIGURED: {
      title: 'Logowanie nie jest poprawnie skonfigurowane',
      body: 'Dostawca tożsamości i ta usługa nie zgadzają się co do sposobu zabezpieczania logowania. Prosimy powiadomić administratora i podać poniższy identyfikator żądania.',
    },
    IDP_UNAVAILABLE: {
      title: 'Logowanie jest niedostępne',
      body: 'Dostawca tożsamości jest w tej chwili nieosiągalny. Prosimy spróbować ponownie za chwilę.',
    },
    IDP_TIMEOUT: {
      title: 'Logowanie trwa zbyt długo',
      body: 'Dostawca tożsamości nie odpowiedział na czas. Prosimy spróbować ponownie za chwilę.',
    },
    UPSTREAM_UNAVAILABLE: {
      title: 'Usługa spotkań jest niedostępna',
      body: 'Usługa wideokonferencji w tej chwili nie odpowiada. Prosimy spróbować ponownie za chwilę.',
    },
    LOGOUT_REFUSED: {
      title: 'Odrzucono wylogowanie',
      body: 'To żądanie wylogowania nie pochodziło z tej strony, więc zostało zignorowane. Aby się wylogować, należy użyć przycisku wylogowania na tej stronie.',
    },
    BAD_REQUEST: {
      title: 'Nieprawidłowe żądanie',
      body: 'Ten adres nie jest prawidłowym linkiem do spotkania.',
    },
    URL_TOO_LONG: {
      title: 'Zbyt długi link',
      body: 'Ten link do spotkania jest zbyt długi, aby się za jego pomocą zalogować. Prosimy użyć krótszego linku.',
    },
    FORBIDDEN: {
      title: 'Zabronione',
      body: 'Ten adres odpowiada tylko własnemu serwerowi proxy tej witryny.',
    },
    NOT_FOUND: {
      title: 'Nie znaleziono',
      body: 'Pod tym adresem nic nie ma.',
    },
    METHOD_NOT_ALLOWED: {
      title: 'Niedozwolone',
      body: 'Ten adres nie przyjmuje tego rodzaju żądań.',
    },
    INTERNAL: {
      title: 'Coś poszło nie tak',
      body: 'Wystąpił nieoczekiwany błąd. Prosimy spróbować ponownie; jeśli problem będzie się powtarzał, należy powiadomić administratora.',
    },
    SIGNED_OUT: {
      title: 'Wylogowano',
      body: 'Wylogowano z usługi wideokonferencji.',
    },
    LOGOUT_CONFIRM: {
      title: 'Wylogować się?',
      body: 'Wylogować się z usługi wideokonferencji w tej przeglądarce? Dostawca tożsamości może poprosić o ponowne potwierdzenie.',
    },
    OPEN_APP: {
      title: 'Kontynuuj w aplikacji Jitsi Meet',
      body: 'Zalogowano. Aby kontynuować, prosimy otworzyć spotkanie w aplikacji desktopowej Jitsi Meet.',
    },
  },
  next: {
    ACCESS_DENIED: 'Zaloguj się na inne konto',
    SIGNED_OUT: 'Zaloguj się ponownie',
    LOGOUT_CONFIRM: 'Wyloguj się',
    OPEN_APP: 'Otwórz aplikację Jitsi Meet',
  },
  tryAgain: 'Spróbuj ponownie',
  signedInAs: 'Zalogowano jako {account}.',
  requestId: 'Identyfikator żądania',
}
