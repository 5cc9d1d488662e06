/** Portuguese. */
import type { PageTexts } from './types.js'

export const PT: PageTexts = {
  pages: {
    ACCESS_DENIED: {
      title: 'Acesso negado',
      body: 'A sessão foi iniciada, mas a sua conta não tem permissão para usar este serviço de videoconferência. Se considerar que se trata de um erro, peça acesso ao seu administrador.',
    },
    LOGIN_STATE_INVALID: {
      title: 'O início de sessão expirou',
      body: 'Não foi possível concluir o início de sessão neste navegador: demorou muito tempo, já tinha sido usado ou este navegador não guarda cookies para este site. Tente novamente; se voltar a acontecer, permita cookies para este site.',
    },
    LOGIN_FAILED: {
      title: 'Falha no início de sessão',
      body: 'Não foi possível concluir o início de sessão. Tente novamente.',
    },
    IDP_REFUSED: {
      title: 'Início de sessão cancelado',
      body: 'O início de sessão foi cancelado ou recusado no seu provedor de identidade.',
    },
    IDP_ERROR: {
      title: 'O provedor de identidade indicou um erro',
      body: 'O seu provedor de identidade não conseguiu concluir o início de sessão. Tente novamente daqui a pouco; se o problema persistir, avise o seu administrador.',
    },
    IDP_MISCONFIGURED: {
      title: 'O início de sessão não está configurado corretamente',
      body: 'O provedor de identidade e este serviço não estão de acordo sobre como proteger o início de sessão. Avise o seu administrador e indique o ID da solicitação abaixo.',
    },
    IDP_UNAVAILABLE: {
      title: 'Início de sessão indisponível',
      body: 'O provedor de identidade não está acessível neste momento. Tente novamente daqui a pouco.',
    },
    IDP_TIMEOUT: {
      title: 'O início de sessão excedeu o tempo limite',
      body: 'O provedor de identidade não respondeu a tempo. Tente novamente daqui a pouco.',
    },
    UPSTREAM_UNAVAILABLE: {
      title: 'O serviço de reuniões está indisponível',
      body: 'O serviço de videoconferência não responde neste momento. Tente novamente daqui a pouco.',
    },
    LOGOUT_REFUSED: {
      title: 'Pedido para sair recusado',
      body: 'Este pedido para sair não veio deste site e, por isso, foi ignorado. Em vez disso, use o botão para sair deste site.',
    },
    BAD_REQUEST: {
      title: 'Solicitação inválida',
      body: 'Este endereço não é um link de reunião válido.',
    },
    URL_TOO_LONG: {
      title: 'Link muito longo',
      body: 'Este link de reunião é muito longo para iniciar sessão. Use um link mais curto.',
    },
    FORBIDDEN: {
      title: 'Proibido',
      body: 'Este endereço só responde ao proxy deste site.',
    },
    NOT_FOUND: {
      title: 'Não encontrado',
      body: 'Não existe nada neste endereço.',
    },
    METHOD_NOT_ALLOWED: {
      title: 'Não permitido',
      body: 'Este endereço não aceita este tipo de solicitação.',
    },
    INTERNAL: {
      title: 'Ocorreu um problema',
      body: 'Houve um erro inesperado. Tente novamente; se o problema persistir, avise o seu administrador.',
    },
    SIGNED_OUT: {
      title: 'Sessão encerrada',
      body: 'A sua sessão no serviço de videoconferência foi encerrada.',
    },
    LOGOUT_CONFIRM: {
      title: 'Sair?',
      body: 'Deseja sair do serviço de videoconferência neste navegador? O seu provedor de identidade pode pedir uma nova confirmação.',
    },
    OPEN_APP: {
      title: 'Continuar no Jitsi Meet para computador',
      body: 'Sessão iniciada. Para continuar, abra a reunião no Jitsi Meet para computador.',
    },
  },
  next: {
    ACCESS_DENIED: 'Entrar com outra conta',
    SIGNED_OUT: 'Entrar novamente',
    LOGOUT_CONFIRM: 'Sair',
    OPEN_APP: 'Abrir o Jitsi Meet para computador',
  },
  tryAgain: 'Tentar novamente',
  signedInAs: 'Sessão iniciada como {account}.',
  requestId: 'ID da solicitação',
}
