import t from 'tap'
import { classify, isNavigation, isRoomSegment, nameToSegment, roomClaim, roomPath, type RequestHead } from '../src/rooms/classify.js'
import { jwtParam, roomUrl, stripJwtParam } from '../src/rooms/target.js'

const nav = (path: string, method = 'GET'): RequestHead => ({ method, path, secFetchMode: 'navigate', accept: 'text/html' })

t.test('classify: jitsi-web routes', async (t) => {
  const cases: [string, RequestHead, unknown][] = [
    ['room', nav('/MyRoom'), { kind: 'room', room: 'MyRoom', tenant: undefined }],
    ['HEAD room', nav('/MyRoom', 'HEAD'), { kind: 'room', room: 'MyRoom', tenant: undefined }],
    ['tenant room', nav('/acme/Weekly'), { kind: 'room', room: 'Weekly', tenant: 'acme' }],
    ['encoded unicode room', nav('/T%C3%A4st%20Raum'), { kind: 'room', room: 'T%C3%A4st%20Raum', tenant: undefined }],
    ['raw bytes are percent-encoded', nav('/T\u00e4st'), { kind: 'room', room: 'T%E4st', tenant: undefined }],
    ['room the web app strips to nothing', nav('/()'), { kind: 'pass' }],
    ['tenant the web app strips to nothing', nav('/!!/Room'), { kind: 'pass' }],
    ['endpoint', nav('/jitsi/login'), { kind: 'endpoint', name: 'login' }],
    ['endpoint any method', { ...nav('/jitsi/callback'), method: 'POST' }, { kind: 'endpoint', name: 'callback' }],
    ['root (welcome page)', nav('/'), { kind: 'pass' }],
    ['config.js', nav('/config.js'), { kind: 'pass' }],
    ['interface_config.js', nav('/interface_config.js'), { kind: 'pass' }],
    ['external_api.js', nav('/external_api.js'), { kind: 'pass' }],
    ['favicon', nav('/favicon.ico'), { kind: 'pass' }],
    ['manifest', nav('/manifest.json'), { kind: 'pass' }],
    ['pwa worker', nav('/pwa-worker.js'), { kind: 'pass' }],
    ['http-bind', nav('/http-bind'), { kind: 'pass' }],
    ['xmpp-websocket', nav('/xmpp-websocket'), { kind: 'pass' }],
    ['tenant config.js', nav('/acme/config.js'), { kind: 'pass' }],
    ['tenant http-bind', nav('/acme/http-bind'), { kind: 'pass' }],
    ['tenant xmpp-websocket', nav('/acme/xmpp-websocket'), { kind: 'pass' }],
    ['static asset', nav('/static/close.svg'), { kind: 'pass' }],
    ['libs', nav('/libs/app.bundle.min.js'), { kind: 'pass' }],
    ['libs dir with room-like name', nav('/libs/foo'), { kind: 'pass' }],
    ['css', nav('/css/all.css'), { kind: 'pass' }],
    ['images', nav('/images/logo'), { kind: 'pass' }],
    ['sounds', nav('/sounds/ring'), { kind: 'pass' }],
    ['lang', nav('/lang/main-de'), { kind: 'pass' }],
    ['colibri-ws', nav('/colibri-ws/jvb1/abc'), { kind: 'pass' }],
    ['room-info api', nav('/_api/room-info'), { kind: 'pass' }],
    ['well-known', nav('/.well-known/x'), { kind: 'pass' }],
    ['three segments', nav('/a/b/c'), { kind: 'pass' }],
    ['trailing slash', nav('/MyRoom/'), { kind: 'pass' }],
    ['double slash', nav('//evil.example'), { kind: 'pass' }],
    ['colon in room', nav('/a:b'), { kind: 'pass' }],
    ['quote in room', nav("/a'b"), { kind: 'pass' }],
    ['encoded slash', nav('/a%2Fb'), { kind: 'pass' }],
    ['bad percent-encoding', nav('/a%zz'), { kind: 'pass' }],
    ['control character', nav('/a%0Db'), { kind: 'pass' }],
    ['backslash', nav('/%5Cevil.example'), { kind: 'pass' }],
    ['dot segment', nav('/..'), { kind: 'pass' }],
    ['POST to room', nav('/MyRoom', 'POST'), { kind: 'pass' }],
    ['OPTIONS to room', nav('/MyRoom', 'OPTIONS'), { kind: 'pass' }],
    ['fetch, not navigation', { method: 'GET', path: '/MyRoom', secFetchMode: 'cors', accept: 'text/html' }, { kind: 'pass' }],
    ['no fetch metadata, html accept', { method: 'GET', path: '/MyRoom', secFetchMode: undefined, accept: 'text/html,*/*' }, { kind: 'room', room: 'MyRoom', tenant: undefined }],
    ['no fetch metadata, */* accept', { method: 'GET', path: '/MyRoom', secFetchMode: undefined, accept: '*/*' }, { kind: 'pass' }],
    ['room named jitsi (prefix needs the slash)', nav('/jitsi'), { kind: 'room', room: 'jitsi', tenant: undefined }],
    ['over-long room', nav(`/${'a'.repeat(201)}`), { kind: 'pass' }],
    ['absolute-form target', nav('http://evil.example/x'), { kind: 'pass' }],
  ]
  for (const [name, head, expected] of cases) t.same(classify(head, '/jitsi/'), expected, name)
})

t.test('isNavigation', async (t) => {
  t.equal(isNavigation('navigate', undefined), true)
  t.equal(isNavigation('no-cors', 'text/html'), false)
  t.equal(isNavigation(undefined, undefined), false)
})

t.test('isRoomSegment', async (t) => {
  t.equal(isRoomSegment('Caf%C3%A9'), true)
  t.equal(isRoomSegment(''), false)
  t.equal(isRoomSegment('%E0%A4%A'), false)
  t.equal(isRoomSegment('x'.repeat(3000)), false)
  t.equal(nameToSegment('Täst Raum'), 'T%C3%A4st%20Raum')
})

t.test('roomClaim matches the web app (getBackendSafeRoomName)', async (t) => {
  // [raw path segment, what the web app sends to Prosody] (parseURIString + getBackendSafeRoomName)
  const cases: [string, string][] = [
    ['MyRoom', 'myroom'],
    ['T%C3%A4st', 't%c3%a4st'],
    ['T%C3%A4st%20Raum', 't%c3%a4st%20raum'],
    ['%C3%9Cn%C3%AFc%C3%B8d%C3%A9', '%c3%bcn%c3%afc%c3%b8d%c3%a9'],
    ['%EF%BC%A1%EF%BC%A2%EF%BC%A3', 'abc'], // NFKC folds full-width letters
    ['Room(1)', 'room1'], // ( ) are dropped by the web app
    ['a+b', 'ab'],
    ['team!', 'team'],
    ["it's", 'its'],
    ['a%2Bb', 'a%2bb'], // an encoded + is kept
    ['100%2541', '100%2541'], // decoded once only
    ['100%', '100%25'], // not decodable: kept, then encoded
  ]
  for (const [room, claim] of cases) t.equal(roomClaim(room), claim, room)
})

t.test('query helpers', async (t) => {
  t.equal(stripJwtParam(''), '')
  t.equal(stripJwtParam('jwt=abc'), '')
  t.equal(stripJwtParam('a=1&jwt=abc&b=2&jwt&jwt=x'), 'a=1&b=2')
  t.equal(stripJwtParam('jwtx=1&&b=2'), 'jwtx=1&b=2')
  t.equal(stripJwtParam('a=\u00e9 b'), 'a=%E9%20b', 'raw bytes become valid header text')
  t.equal(jwtParam('a=1&jwt=x.y.z'), 'x.y.z')
  t.equal(jwtParam('a=1'), undefined)
  t.equal(jwtParam('jwt=%zz'), undefined)
})

t.test('roomUrl always stays on the origin', async (t) => {
  const o = 'https://meet.example.com'
  t.equal(roomUrl(o, 'MyRoom', undefined, ''), 'https://meet.example.com/MyRoom')
  t.equal(roomUrl(o, 'MyRoom', undefined, 'lang=de', 'a.b.c'), 'https://meet.example.com/MyRoom?lang=de&jwt=a.b.c')
  t.equal(roomUrl(o, 'T%C3%A4st%20Raum', 'acme', '', 'a.b.c'), 'https://meet.example.com/acme/T%C3%A4st%20Raum?jwt=a.b.c')
  t.equal(roomPath(nameToSegment('@evil.example'), undefined), '/%40evil.example')
  t.equal(new URL(roomUrl(o, nameToSegment('/evil.example'), undefined, '')).origin, o)
  t.equal(jwtParam('jwt=a&jwt=b'), undefined, 'two tokens: neither is trusted')
})

t.test("Jitsi's {state}: room, tenant, overrides, desktop app", async (t) => {
  const { parseJitsiState, overridesHash } = await import('../src/rooms/jitsi-state.js')
  const { segmentOf } = await import('../src/rooms/classify.js')
  t.same(parseJitsiState(JSON.stringify({ room: 'T%C3%A4st', roomSafe: 't%c3%a4st', tenant: 'acme', 'config.startWithAudioMuted': true, electron: true, refreshToken: 'SECRET' })),
    { room: 'T%C3%A4st', tenant: 'acme', query: '', hash: 'config.startWithAudioMuted=true', electron: true })
  t.same(parseJitsiState(JSON.stringify({ room: 'MyRoom' })), { room: 'MyRoom', tenant: undefined, query: '', hash: '', electron: false })
  t.same(parseJitsiState(JSON.stringify({ room: 'Täst Raum', tenant: null })), { room: 'T%C3%A4st%20Raum', tenant: undefined, query: '', hash: '', electron: false }, 'unencoded names are encoded')
  for (const bad of ['', 'not json', '[]', 'null', '"room"', JSON.stringify({}), JSON.stringify({ room: 5 }), JSON.stringify({ room: '//evil.example' }), JSON.stringify({ room: 'a/b' }),
    JSON.stringify({ room: 'ok', tenant: '../x' }), JSON.stringify({ room: 'ok', tenant: 'a/b' }), JSON.stringify({ room: '()' }), `{"room":"${'x'.repeat(5000)}"}`]) {
    t.equal(parseJitsiState(bad), undefined, bad.slice(0, 60))
  }
  t.equal(segmentOf('100%2541'), '100%2541', 'a room whose name holds a percent sign survives')
  t.equal(segmentOf('%zz'), '%25zz', 'not decodable: taken literally')
  t.equal(segmentOf(undefined), undefined)

  const hash = overridesHash(Object.entries({
    'config.startWithAudioMuted': 'true',
    'config.prejoinConfig.enabled': false,
    'interfaceConfig.SHOW_JITSI_WATERMARK': 'false',
    'config.subject': '"Weekly sync"',
    'config.localSubject': 'Plain text, as Jitsi sends it',
    'config.evil1': 'wss:evil.example',
    'config.evil2': '/\\evil.example',
    'config.evil3': '\ud800',
    'config.defaultLanguage': '"de"',
    'config.startBitrate': 800,
    // hostile or useless: dropped
    'config.websocket': '"wss://evil.example/xmpp"',
    'config.bosh': '"//evil.example/http-bind"',
    'config.hosts.domain': '"evil.example"',
    'config.brandingDataUrl': '"https://evil.example"',
    'config.analytics.scriptURLs': '["https://evil.example/x.js"]',
    'config.__proto__.x': 'true',
    'config.constructor': 'true',
    'config.nested': '{"a":1}',
    'config.list': '[1]',
    'config.notJson': 'yes', // plain text is kept as a string
    'config.link': '"javascript:alert(1)"',
    'config.big': JSON.stringify('x'.repeat(300)),
    'config.': 'true',
    'other.key': 'true',
    'config.a b': 'true',
    room: 'x',
    electron: true,
  }))
  t.equal(hash, 'config.startWithAudioMuted=true&config.prejoinConfig.enabled=false&interfaceConfig.SHOW_JITSI_WATERMARK=false&config.subject=%22Weekly%20sync%22&config.localSubject=%22Plain%20text%2C%20as%20Jitsi%20sends%20it%22&config.defaultLanguage=%22de%22&config.startBitrate=800&config.notJson=%22yes%22')
  t.equal(parseJitsiState('{"room":"\\ud800"}'), undefined, 'a lone surrogate is not a room (and crashes nothing)')
  t.equal(parseJitsiState('{"room":"ok","tenant":"\\udfff"}'), undefined)
  const { isRoomTarget } = await import('../src/rooms/classify.js')
  t.equal(isRoomTarget('MyRoom', 'acme', '/jitsi/'), true)
  for (const [room, tenant] of [['x', 'static'], ['x', 'etherpad'], ['config.js', undefined], ['x', 'jitsi'], ['http-bind', 'acme']] as const) {
    t.equal(isRoomTarget(room, tenant, '/jitsi/'), false, `${tenant}/${room}`)
  }
  t.equal(overridesHash(Array.from({ length: 100 }, (_, i) => [`config.k${i}`, true])).split('&').length, 32, 'bounded')
})
