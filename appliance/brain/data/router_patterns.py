"""Paraphrase patterns for the router's training data (our own, written for this appliance).

Slots: {dur} a duration (words / digits / seconds), {name} a timer name, {greet} a greeting,
{food}, {place}, {topic} fillers for open questions. CONTEXTUAL patterns carry the label per
previous-turn intent: "sí" answers a template question (affirm) but continues an LLM chat.
"""

from __future__ import annotations

DURATIONS: list[tuple[str, str, int]] = [
    ("cinco minutos", "5 minutos", 300), ("diez minutos", "10 minutos", 600),
    ("un minuto", "1 minuto", 60), ("dos minutos", "2 minutos", 120),
    ("tres minutos", "3 minutos", 180), ("veinte minutos", "20 minutos", 1200),
    ("quince minutos", "15 minutos", 900), ("media hora", "media hora", 1800),
    ("una hora", "1 hora", 3600), ("un minuto y medio", "1 minuto y medio", 90),
    ("una hora y cuarto", "1 hora y cuarto", 4500), ("hora y media", "hora y media", 5400),
    ("cuarenta y cinco segundos", "45 segundos", 45), ("treinta segundos", "30 segundos", 30),
    ("tres cuartos de hora", "tres cuartos de hora", 2700),
    ("diez minutos y treinta segundos", "10 minutos y 30 segundos", 630),
    ("doce minutos", "12 minutos", 720), ("siete minutos", "7 minutos", 420),
    ("ocho minutos", "8 minutos", 480), ("cuarenta minutos", "40 minutos", 2400),
    ("dos horas", "2 horas", 7200), ("noventa segundos", "90 segundos", 90),
    ("veinticinco minutos", "25 minutos", 1500), ("un cuarto de hora", "un cuarto de hora", 900),
    ("cuatro minutos", "4 minutos", 240), ("seis minutos y medio", "6 minutos y medio", 390),
    ("medio minuto", "medio minuto", 30), ("treinta y cinco minutos", "35 minutos", 2100),
    ("dos horas y media", "2 horas y media", 9000), ("once minutos", "11 minutos", 660),
]
NAMES: list[tuple[str, str]] = [
    ("para la pasta", "la pasta"), ("para los huevos", "los huevos"),
    ("para el arroz", "el arroz"), ("para el horno", "el horno"),
    ("para las lentejas", "las lentejas"), ("para el pollo", "el pollo"),
    ("para el bizcocho", "el bizcocho"), ("para la pizza", "la pizza"),
    ("para las galletas", "las galletas"), ("para el pan", "el pan"),
]
GREETS = ["hola", "buenos días", "buenas tardes", "buenas noches", "oye", "hola, buenas",
          "buenas", "hola, qué tal"]
FOODS = ["la paella", "un gazpacho", "las lentejas", "una tortilla de patatas", "el cocido",
         "un bizcocho de yogur", "la bechamel", "unas croquetas", "el pisto", "una crema de "
         "calabacín", "el arroz con leche", "unas natillas", "el salmorejo", "un pollo al "
         "horno", "unas migas", "la masa de pizza", "un flan", "el pan casero",
         "unos garbanzos", "la mayonesa"]
PLACES = ["Francia", "Japón", "Italia", "México", "Portugal", "Argentina", "Alemania",
          "Perú", "Marruecos", "Canadá"]
TOPICS = ["los agujeros negros", "la fotosíntesis", "la Segunda Guerra Mundial",
          "la Revolución Francesa", "el cambio climático", "los dinosaurios", "la inflación",
          "las vacunas", "el sistema solar", "la inteligencia artificial"]

PATTERNS: dict[str, list[str]] = {
    "greeting": [
        "Hola", "¡Hola!", "Buenos días", "¡Buenos días!", "Buenas tardes", "Buenas noches",
        "Hola, buenas", "Buenas", "Hola, ¿qué hay?", "¡Hola, hola!", "Hey, hola",
        "Muy buenos días", "Hola, buenos días", "Buenas tardes, asistente", "Hola, cocina",
        "Saludos", "¿Hola? ¿Estás ahí?", "Oye, hola", "Hola de nuevo", "Ya estoy aquí, hola",
        "Hello", "Hi there", "Good morning", "Hey, hi",
    ],
    "farewell": [
        "Adiós", "¡Adiós!", "Hasta luego", "Hasta mañana", "Nos vemos", "Chao",
        "Me voy, hasta luego", "Buenas noches, me voy a dormir", "Hasta la próxima",
        "Adiós, hasta otra", "Nos vemos luego", "Hasta pronto", "Me marcho, adiós",
        "Hasta después", "Hasta la vista", "Venga, adiós", "Que descanses, adiós",
        "Goodbye", "Bye bye", "See you later",
    ],
    "thanks": [
        "Gracias", "¡Muchas gracias!", "Gracias, muy amable", "Mil gracias", "Te lo agradezco",
        "Muchísimas gracias", "Gracias por la ayuda", "Genial, gracias", "Perfecto, gracias",
        "Vale, gracias", "Gracias, eres un sol", "Muy amable", "Gracias, majo",
        "Estupendo, muchas gracias", "Gracias otra vez", "Qué bien, gracias",
        "Thank you", "Thanks a lot", "Thanks",
    ],
    "time": [
        "¿Qué hora es?", "¿Me dices la hora?", "Dime la hora", "¿Tienes hora?",
        "¿Qué hora es ahora?", "¿Qué hora tenemos?", "¿Sabes qué hora es?",
        "La hora, por favor", "¿Qué hora es ya?", "Oye, ¿qué hora es?",
        "¿Me puedes decir la hora?", "¿Qué horas son?", "Dime qué hora es",
        "¿Cuál es la hora?", "¿Qué hora marca el reloj?", "¿Es muy tarde? ¿Qué hora es?",
        "Necesito saber la hora", "¿Podrías decirme la hora?", "¿A qué hora estamos?",
        "What time is it?", "Tell me the time", "What's the time?",
    ],
    "date": [
        "¿Qué día es hoy?", "¿A qué estamos hoy?", "¿Qué fecha es hoy?", "Dime la fecha",
        "¿A qué día estamos?", "¿Qué día de la semana es hoy?", "¿Hoy qué día es?",
        "¿En qué fecha estamos?", "¿Me dices la fecha de hoy?", "¿Qué día es?",
        "¿Sabes qué día es hoy?", "La fecha, por favor", "¿A cuántos estamos?",
        "¿Hoy es martes o miércoles?", "¿Qué día del mes es hoy?", "¿En qué día vivo?",
        "¿Me recuerdas qué día es hoy?", "What day is it today?", "What's the date today?",
        "What's today's date?",
    ],
    "timer_set": [
        "Pon un temporizador de {dur}", "Temporizador de {dur}", "Pon un temporizador de {dur} "
        "{name}", "Avísame en {dur}", "Pon una alarma de {dur}", "Cuenta {dur}",
        "Pon el temporizador a {dur}", "Temporizador {name} de {dur}",
        "¿Me pones un temporizador de {dur}?", "Ponme un temporizador de {dur}",
        "Programa un temporizador de {dur}", "Quiero un temporizador de {dur}",
        "Activa un temporizador de {dur}", "Pon {dur} {name}", "Avísame dentro de {dur}",
        "Cronometra {dur}", "Pon un contador de {dur}", "Temporizador {name}, {dur}",
        "Pon otro temporizador de {dur}", "Crea un temporizador de {dur} {name}",
        "Oye, pon un temporizador de {dur}", "Pon una cuenta atrás de {dur}",
        "Recuérdame en {dur} que saque el pan", "Pon un temporizador {name}",
        "Un temporizador de {dur}, por favor", "Empieza un temporizador de {dur}",
        "¿Puedes poner un temporizador de {dur}?", "Pon la alarma {name} en {dur}",
        "Avísame cuando pasen {dur}", "Necesito un temporizador de {dur}",
        "Set a timer for {dur}", "Start a {dur} timer", "Timer for {dur} please",
    ],
    "timer_cancel": [
        "Cancela el temporizador", "Quita el temporizador", "Borra el temporizador",
        "Cancela el temporizador {name}", "Quita la alarma", "Anula el temporizador",
        "Cancela todos los temporizadores", "Quita todos los temporizadores",
        "Elimina el temporizador {name}", "Ya no necesito el temporizador",
        "Cancela la cuenta atrás", "Desactiva el temporizador", "Para el temporizador {name}",
        "Olvida el temporizador", "Borra todos los temporizadores", "Cancela el de la pasta",
        "Quita el del arroz", "Detén el temporizador {name}", "Cancélalo",
        "No hace falta el temporizador, quítalo", "Cancel the timer", "Cancel all timers",
    ],
    "timer_query": [
        "¿Cuánto queda?", "¿Cuánto le queda al temporizador?", "¿Cuánto falta?",
        "¿Cuánto queda del temporizador {name}?", "¿Cuánto tiempo queda?",
        "¿Cuánto le falta al temporizador?", "¿Qué temporizadores hay?",
        "¿Cuántos temporizadores tengo?", "¿Cómo va el temporizador?",
        "¿Cuánto le queda a la pasta?", "¿Cuánto le queda al del arroz?",
        "¿Queda mucho del temporizador?", "Dime cuánto queda", "¿Cuánto tiempo falta?",
        "¿Cómo van los temporizadores?", "¿Hay algún temporizador puesto?",
        "Tiempo restante del temporizador", "¿Cuánto le falta {name}?",
        "¿Cuántos minutos quedan del temporizador?", "How much time is left?",
        "How long left on the timer?",
    ],
    "volume_up": [
        "Sube el volumen", "Más alto", "Sube", "Habla más alto", "Sube un poco el volumen",
        "Pon el volumen más alto", "No te oigo, sube el volumen", "Más volumen",
        "Sube el volumen un poco", "Aumenta el volumen", "Súbelo", "Habla más fuerte",
        "Un poco más alto", "Sube la voz", "Más fuerte, por favor", "Sube el sonido",
        "Turn it up", "Volume up", "Louder please",
    ],
    "volume_down": [
        "Baja el volumen", "Más bajo", "Baja", "Habla más bajo", "Baja un poco el volumen",
        "Pon el volumen más bajo", "Estás muy alto, baja el volumen", "Menos volumen",
        "Baja el volumen un poco", "Disminuye el volumen", "Bájalo", "Habla más flojito",
        "Un poco más bajo", "Baja la voz", "Más bajito, por favor", "Baja el sonido",
        "Turn it down", "Volume down", "Quieter please",
    ],
    "stop": [
        "Para", "¡Para!", "Cállate", "Basta", "Silencio", "Detente", "Para ya", "Ya está, para",
        "Stop", "Calla", "Deja de hablar", "Para de hablar", "Vale, para", "Apágate",
        "Ya basta", "Silencio, por favor", "Corta", "Para la alarma", "Que pares",
        "Shut up", "Stop talking",
    ],
    "identity": [
        "¿Quién eres?", "¿Cómo te llamas?", "¿Qué eres?", "¿Eres un robot?",
        "¿Qué puedes hacer?", "¿Tú quién eres?", "Dime quién eres", "¿Cuál es tu nombre?",
        "¿Qué sabes hacer?", "¿Eres una persona?", "Preséntate", "¿Para qué sirves?",
        "¿Quién te ha hecho?", "¿Eres Alexa?", "¿Con quién hablo?", "¿Qué tipo de asistente "
        "eres?", "Who are you?", "What's your name?", "What can you do?",
    ],
    "how_are_you": [
        "¿Qué tal estás?", "¿Cómo estás?", "¿Qué tal?", "¿Cómo te va?", "¿Todo bien?",
        "¿Cómo andas?", "¿Qué tal te encuentras?", "¿Cómo estás hoy?", "¿Qué tal el día?",
        "¿Cómo va todo?", "¿Estás bien?", "¿Qué tal te va?", "Hola, ¿cómo estás?",
        "¿Y tú qué tal?", "¿Cómo lo llevas?", "How are you?", "How's it going?",
    ],
    "affirm": [
        "Sí", "Vale", "De acuerdo", "Claro", "Sí, por favor", "Venga", "Perfecto", "Exacto",
        "Eso es", "Correcto", "Por supuesto", "Sí, hazlo", "Adelante", "Vale, sí", "Sí, claro",
        "Afirmativo", "Yes", "Sure", "Okay",
    ],
    "deny": [
        "No", "No, gracias", "Nada", "No hace falta", "Déjalo", "Mejor no", "Para nada",
        "No, no", "Negativo", "Ahora no", "No, déjalo", "Qué va", "No, está bien así",
        "En absoluto", "No quiero", "No, gracias, ya está", "No thanks", "Nope",
    ],
    "llm": [
        # open questions about cooking, with words that also appear in template intents
        "¿Cómo se hace {food}?", "¿Qué lleva {food}?", "Dame una receta de {food}",
        "¿Cuánto tiempo hay que cocer los huevos?", "¿Cuántos minutos necesita {food}?",
        "¿Cuánto tiempo se hornea un bizcocho?", "¿A qué temperatura pongo el horno para "
        "{food}?", "¿Cómo bajo el fuego de la vitro?", "¿Por qué sube el bizcocho?",
        "¿Qué puedo hacer con {food} que me sobró?", "¿Cómo arreglo una mayonesa cortada?",
        "¿Con qué sustituyo el huevo en {food}?", "¿Cuántos gramos son una taza de harina?",
        "¿Cuántas calorías tiene {food}?", "¿Se puede congelar {food}?",
        "¿Qué vino va bien con {food}?", "¿Qué hago de cenar esta noche?",
        "¿Qué preparo para comer hoy?", "Dime algo rápido para cenar",
        "¿Cuánto dura {food} en la nevera?", "¿Es sano comer {food} todos los días?",
        "¿Cómo se pone el horno en modo grill?", "¿Cuánto se tarda en hacer {food}?",
        "¿Qué especias le pongo a {food}?", "¿Cómo hago que {food} quede más jugosa?",
        "¿Cuántas personas comen con {food}?", "¿Cuál es el secreto de {food}?",
        # greet or thank, then an open question: the question wins
        "{greet}, ¿qué desayuno hoy?", "{greet}, ¿cómo se hace {food}?",
        "{greet}, ¿me das una receta de {food}?", "{greet}, ¿qué hago de comer?",
        "Gracias, y ¿cómo hago {food}?", "{greet}, ¿cuál es la capital de {place}?",
        "{greet}, explícame {topic}", "{greet}, ¿qué me recomiendas para cenar?",
        "Buenos días, ¿qué tiempo suele hacer en {place} en invierno?",
        # general knowledge
        "¿Cuál es la capital de {place}?", "¿Cuántos habitantes tiene {place}?",
        "Explícame {topic}", "¿Qué sabes de {topic}?", "Háblame de {topic}",
        "¿Por qué es importante {topic}?", "Cuéntame un chiste", "Cuéntame un cuento",
        "¿Quién escribió el Quijote?", "¿Quién pintó las Meninas?",
        "¿Quién inventó la tortilla de patatas?", "¿Qué idioma se habla en {place}?",
        "¿Qué hora es en Nueva York?", "¿Qué hora es en {place}?",
        "¿A qué hora abre el mercado los domingos?", "¿Qué día cae la Navidad este año?",
        "¿Cuántos días tiene febrero?", "¿Qué día se celebra el día de la madre?",
        "¿Cómo se dice hola en japonés?", "¿Qué significa adiós en {place}?",
        "¿Cuánto es doce por siete?", "¿Cuántos minutos tiene un día?",
        "¿Cómo funciona un temporizador mecánico?", "¿Por qué el cielo es azul?",
        "¿Qué es la inflación y cómo me afecta?", "¿Cuánto pesa un elefante?",
        "¿Qué distancia hay de la Tierra a la Luna?", "¿Quién ganó el mundial de 2010?",
        "Recomiéndame un libro", "Dime una frase motivadora", "¿Qué película me recomiendas?",
        "¿Cómo puedo dormir mejor?", "¿Qué hago si me quemo con aceite?",
        "Escribe un poema sobre {food}", "Inventa una historia corta", "¿Qué opinas de {topic}?",
        "¿Es verdad que los gatos ven en la oscuridad?", "¿Cómo se quita una mancha de vino?",
        "¿Cuántas tazas de café son demasiadas?", "¿Cómo se cuida una planta de albahaca?",
        "¿Qué diferencia hay entre bicarbonato y levadura?", "¿Cuál es el río más largo?",
        "¿Por qué lloramos al cortar cebolla?", "¿Cuál es la mejor forma de aprender inglés?",
        "¿Cómo está el tráfico en {place}?", "¿Cómo está {food} de sal normalmente?",
        "¿Qué tal sale {food} con arroz integral?", "¿Quién es el presidente de {place}?",
        "Ayúdame a planificar el menú de la semana", "Hazme una lista de la compra para "
        "{food}", "¿Qué puedo cocinar con patatas y huevos?", "¿Cómo se para una hemorragia "
        "nasal?", "¿Sube mucho el pan con levadura fresca?", "¿Cuándo baja el precio del "
        "aceite?", "¿Qué hago si el temporizador del horno no funciona?",
        "¿Cuántos minutos se fríe una croqueta?", "Dime tres ideas para un postre",
        "¿Qué fruta es de temporada en noviembre?", "¿Cómo conservo el pan para que no se "
        "ponga duro?", "¿Qué puedo hacer este fin de semana?", "Explícame cómo funciona una "
        "olla exprés", "¿Qué significa al dente?", "Tell me a joke",
        "How do I make {food}?", "What's the capital of {place}?",
        "Good morning, what should I cook today?", "Explain {topic} to me",
        "Why is the sky blue?", "What time is it in Tokyo?",
    ],
}

# (pattern, {previous intent: label}). "none" = no previous turn.
_ANSWER_PREVS_AFFIRM = {"none": "affirm", "timer_cancel": "affirm", "timer_set": "affirm",
                        "volume_up": "affirm", "llm": "llm"}
_ANSWER_PREVS_DENY = {"none": "deny", "timer_cancel": "deny", "timer_set": "deny",
                      "volume_down": "deny", "llm": "llm"}
CONTEXTUAL: list[tuple[str, dict[str, str]]] = [
    *[(p, _ANSWER_PREVS_AFFIRM) for p in (
        "Sí", "Sí, por favor", "Vale", "Claro", "Venga, sí", "Sí, sí", "Por supuesto",
        "Claro que sí", "Sí, adelante", "Bueno, vale", "Sí, dime", "Eso, sí")],
    *[(p, _ANSWER_PREVS_DENY) for p in (
        "No", "No, gracias", "Mejor no", "No, déjalo", "Ahora no", "No, no hace falta",
        "Pues no", "No, ninguno", "Qué va, no")],
    # a bare duration answers "¿de cuánto lo pongo?"
    *[(p, {"timer_set": "timer_set"}) for p in (
        "{dur}", "De {dur}", "Pues {dur}", "Ponlo de {dur}", "Mejor {dur}", "{dur}, por favor")],
    *[(p, {"timer_set": "timer_query", "timer_query": "timer_query", "none": "timer_query"})
      for p in ("¿Y cuánto le queda?", "¿Cuánto falta ya?", "¿Y ahora cuánto queda?",
                "¿Cuánto le queda ahora?")],
    # follow-ups in an LLM conversation stay with the LLM
    *[(p, {"llm": "llm"}) for p in (
        "¿Y en verano?", "¿Habitantes?", "¿Y la de {place}?", "¿Y cuánto tiempo?",
        "¿Por qué?", "¿Y eso?", "Cuéntame más", "¿Y con pollo?", "¿Y si no tengo huevos?",
        "¿Cuántos?", "¿Y después qué hago?", "Explícalo mejor", "¿Y el segundo paso?",
        "Otra", "¿Alguna más?", "¿Y cuál es más fácil?", "¿Seguro?", "Sigue",
        "¿Y en {place}?", "¿De verdad?")],
]

# More paraphrases per intent, so held-out patterns share vocabulary with training ones.
MORE: dict[str, list[str]] = {
    "greeting": [
        "Hola, ¿estás ahí?", "Hola, asistente", "Buenos días a todos", "Buenas, buenas",
        "Hola, hola, ¿me oyes?", "Buenas tardes a todos", "Hola, ya he llegado",
        "Buenos días, cocina", "Holi", "Hola, qué hay", "Ey, buenas", "Hola otra vez",
        "Good evening", "Hey there", "Hi", "Hello there", "Good afternoon",
    ],
    "farewell": [
        "Adiós, hasta mañana", "Me voy ya", "Hasta luego, asistente", "Bueno, me voy",
        "Adiós, que vaya bien", "Nos vemos mañana", "Chao, chao", "Hasta otro rato",
        "Me despido, adiós", "Hasta la noche", "Hasta luego, nos vemos", "Adiós, buenas noches",
        "Bye", "See you", "Good night, bye", "See you tomorrow", "Talk to you later",
    ],
    "thanks": [
        "Gracias, de verdad", "Muchas gracias, asistente", "Gracias, perfecto",
        "Te agradezco la ayuda", "Gracias por todo", "Gracias, me has ayudado mucho",
        "Gracias, muy útil", "Vale, muchas gracias", "Gracias, guapa", "Gracias, crack",
        "Gracias por avisar", "Te doy las gracias", "Muchas gracias por la ayuda",
        "Thank you very much", "Thanks so much", "Thanks for the help", "Many thanks",
    ],
    "time": [
        "¿Qué hora es, por favor?", "Hora", "¿La hora?", "Dime la hora, por favor",
        "¿Me das la hora?", "¿Qué hora será?", "¿Sabes la hora?", "¿Qué hora llevamos?",
        "¿Me dirías la hora?", "¿Qué hora es exactamente?", "Quiero saber la hora",
        "¿Cuál es la hora ahora?", "¿Tienes la hora?", "¿Qué hora es en este momento?",
        "What's the time now?", "Do you know what time it is?", "Tell me the time please",
        "Can you tell me the time?", "What time is it now?",
    ],
    "date": [
        "¿Qué día es mañana?", "¿Hoy a qué estamos?", "Dime qué día es hoy",
        "¿Qué fecha tenemos?", "¿Me dices qué día es?", "¿Qué día de la semana estamos?",
        "¿Qué mes es?", "¿A qué fecha estamos hoy?", "La fecha de hoy", "¿Hoy es qué día?",
        "Dime el día de hoy", "¿Qué día es hoy, por favor?", "¿Me puedes decir la fecha?",
        "What day is it?", "What's the date?", "Tell me the date", "What day of the week is it?",
    ],
    "timer_set": [
        "Temporizador {dur}", "Pon {dur}", "Pon {dur} de temporizador", "Ponme {dur}",
        "Cuenta atrás de {dur}", "Avísame en {dur} {name}", "Pon una alarma {name} de {dur}",
        "Mete un temporizador de {dur}", "Inicia un temporizador de {dur}",
        "Déjame un temporizador de {dur}", "Pon un temporizador de {dur}, por favor",
        "Pon un temporizador {name} de {dur}", "¿Me avisas en {dur}?",
        "Temporizador de {dur} {name}", "Avísame en {dur} para sacar la pizza",
        "Programa {dur}", "Pon un reloj de {dur}", "Avisa en {dur}",
        "Set a {dur} timer", "Set timer {dur}", "Remind me in {dur}", "Timer {dur}",
        "Start a timer for {dur}", "Can you set a timer for {dur}?",
    ],
    "timer_cancel": [
        "Cancela el temporizador de los huevos", "Quita la alarma {name}",
        "Apaga el temporizador", "Cancela la alarma", "Anula todos los temporizadores",
        "Borra la alarma {name}", "Quítalo", "Cancela el otro temporizador",
        "Cancela todas las alarmas", "Elimina todos los temporizadores",
        "Quita el temporizador, ya no hace falta", "Deshaz el temporizador",
        "Para todos los temporizadores", "Cancela el temporizador, por favor",
        "Stop the timer", "Delete the timer", "Cancel my timer", "Remove all timers",
    ],
    "timer_query": [
        "¿Cuánto le queda?", "¿Cuánto queda para la pasta?", "¿Cuánto falta para que suene?",
        "¿Cuánto le queda al temporizador {name}?", "¿Cuánto queda de temporizador?",
        "¿Falta mucho?", "¿Cuántos minutos quedan?", "¿Cuánto tiempo le queda?",
        "¿Cuánto queda de la alarma?", "¿Qué tal va el temporizador?",
        "Dime cuánto le queda al temporizador", "¿Cuándo suena el temporizador?",
        "¿Tengo algún temporizador?", "Lista los temporizadores", "¿Cuánto le falta al horno?",
        "How much time is left on the timer?", "How long is left?", "Time left?",
        "What timers do I have?", "When does the timer go off?",
    ],
    "volume_up": [
        "Sube el volumen, por favor", "Sube más", "Ponlo más alto", "Más alto, no te oigo",
        "Sube un poquito", "Sube el volumen al máximo", "Pon más volumen", "Súbele",
        "Sube un poco", "Habla un poco más alto", "Un poco más de volumen",
        "Quiero más volumen", "Sube el altavoz", "Sube un punto", "No se oye, sube",
        "Louder", "Increase the volume", "Turn the volume up", "Speak up",
    ],
    "volume_down": [
        "Baja el volumen, por favor", "Baja más", "Ponlo más bajo", "Más bajo, que molesta",
        "Baja un poquito", "Baja el volumen al mínimo", "Pon menos volumen", "Bájale",
        "Baja un poco", "Habla un poco más bajo", "Un poco menos de volumen",
        "Quiero menos volumen", "Baja el altavoz", "Baja un punto", "Muy alto, baja",
        "Quieter", "Decrease the volume", "Turn the volume down", "Lower the volume",
    ],
    "stop": [
        "Para, para", "Cállate ya", "Basta ya", "Para de sonar", "Detén eso", "Para la música",
        "Silencio ya", "Para, por favor", "Déjalo ya, para", "Para el sonido",
        "Apaga la alarma", "Calla, calla", "Ya, ya, para", "Vale, basta", "Para de una vez",
        "Stop it", "Be quiet", "Enough", "Stop the alarm", "Quiet",
    ],
    "identity": [
        "¿Quién eres tú?", "¿Cómo te llaman?", "¿Tienes nombre?", "¿Qué eres tú?",
        "¿Eres una máquina?", "¿Qué cosas sabes hacer?", "¿En qué me puedes ayudar?",
        "Háblame de ti", "¿Eres un asistente?", "¿Quién te creó?", "¿Eres inteligente?",
        "¿Cuál es tu función?", "¿Eres Siri?", "Dime tu nombre",
        "Who made you?", "Are you a robot?", "What are you?", "Tell me about yourself",
    ],
    "how_are_you": [
        "¿Qué tal estás hoy?", "¿Cómo estás tú?", "¿Cómo te encuentras?", "¿Qué tal andas?",
        "¿Cómo vas?", "¿Qué tal te trata el día?", "¿Todo bien por ahí?", "¿Cómo te sientes?",
        "¿Qué tal todo?", "¿Cómo estás, asistente?", "Buenas, ¿qué tal estás?",
        "¿Estás bien hoy?", "How are you doing?", "How are you today?", "Are you okay?",
        "How do you feel?",
    ],
    "affirm": [
        "Sí, eso", "Vale, perfecto", "Sí, gracias", "Claro que sí", "Venga, vale", "Sí, vale",
        "Muy bien", "Bien", "Hecho", "Sí, correcto", "Ok", "Sí, sí", "Dale", "Eso mismo",
        "Yes please", "Yeah", "Of course", "Right", "Correct",
    ],
    "deny": [
        "No, gracias, no hace falta", "Que no", "No, mejor no", "No, ya está", "Nada, déjalo",
        "No, por ahora no", "No lo hagas", "Tampoco", "No, me equivoqué", "No, eso no",
        "No, ninguno", "Pues no", "Qué va", "No, olvídalo",
        "No", "No way", "Not now", "Never mind", "No, it's fine",
    ],
    "llm": [
        "¿Cuánto tiempo se cuece la pasta?", "¿Cuánto tarda en hacerse el arroz?",
        "¿Qué hora es buena para cenar?", "¿A qué hora sale el sol mañana?",
        "¿Qué día es mejor para hacer la compra?", "¿Cuál es el mejor día para plantar tomates?",
        "¿Cómo se ajusta el volumen del horno?", "¿Por qué baja la masa al sacarla del horno?",
        "¿Quién eres tú para decirme eso?", "¿Cómo se llama el plato típico de {place}?",
        "¿Cómo se llama la salsa con albahaca y piñones?", "¿Qué puedo hacer con pan duro?",
        "¿Qué tal le va a la economía de {place}?", "¿Cómo estás de conocimientos de cocina "
        "japonesa?", "¿Por qué se para el pan de crecer?", "Dime cómo hacer {food}",
        "Necesito ideas para una cena con amigos", "¿Qué le echo a {food} para que sepa mejor?",
        "¿Cuántos huevos lleva {food}?", "¿Cómo sé si el pollo está hecho?",
        "¿Cuánto aceite le pongo a {food}?", "¿Cuál es la diferencia entre {food} y {food}?",
        "¿Qué comida es típica en {place}?", "¿Me explicas qué es el gluten?",
        "¿Qué es más sano, el aceite de oliva o el de girasol?", "¿Cómo se hace el pan sin "
        "levadura?", "¿Puedo usar harina normal en vez de harina de fuerza?",
        "Sugiéreme un plato vegetariano", "¿Qué cocino con lo que tengo en la nevera?",
        "¿Cuántos gramos de arroz por persona?", "Dame una idea para el postre de hoy",
        "¿Cómo se hace un huevo poché?", "¿Qué es la cocina molecular?",
        "Resume la historia de {place}", "¿Cuántos idiomas se hablan en {place}?",
        "¿Cuál es el animal más rápido?", "¿Qué música me recomiendas para cocinar?",
        "¿Cómo se calcula un porcentaje?", "¿Por qué hierve antes el agua en la montaña?",
        "¿Cuánto tiempo necesita la masa para levar?", "¿Cuántos minutos dejo reposar la carne?",
        "¿Qué temperatura tiene que tener el aceite para freír?", "{greet}, tengo una duda "
        "sobre {food}", "{greet}, ¿cuánto tiempo se cuece un huevo duro?",
        "{greet}, ¿qué es {topic}?", "Oye, ¿cómo se hace {food}?", "A ver, explícame {topic}",
        "Una pregunta, ¿cómo se conserva {food}?", "Hola, ¿por qué se corta la nata?",
        "What should I make for dinner?", "How long do I boil an egg?",
        "Who wrote Don Quixote?", "How many people live in {place}?", "Tell me a story",
        "What is {topic}?", "Hi, how do I make pancakes?", "Can you recommend a dessert?",
    ],
}
